// The README is what a newcomer types and what an admin configures from: keep it in step with the code.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { SETTINGS } from '../../src/config/settings';

const root = path.resolve(__dirname, '../..');
const readme = readFileSync(path.join(root, 'README.md'), 'utf8');

describe('README', () => {
  it('shows both quick-start commands', () => {
    expect(readme).toContain('npm ci && npm start');
    expect(readme).toContain('npm ci && npm test');
  });

  it('documents every setting the configuration schema reads, and no setting it does not', () => {
    const documented = new Set([...readme.matchAll(/^\| `([A-Za-z_]+)` \|/gm)].map((m) => m[1]));
    expect([...documented].sort()).toEqual(SETTINGS.map((s) => s.name).sort());
  });

  it('.ci/run runs exactly the README test command', () => {
    const ci = readFileSync(path.join(root, '.ci/run'), 'utf8');
    expect(ci).toMatch(/^npm ci\b.*$/m);
    expect(ci).toMatch(/^npm test$/m);
  });
});
