import { describe, expect, it } from 'vitest';
import { asInvoked, programName } from '../../lib/cli/program-name.ts';
import { defaultConfigDir, isPackageInstall } from '../../lib/project-dir.ts';

describe('the name the CLI was run as', () => {
  it('is ./deploy.ts from a clone (the TypeScript or its bundle), the link name through npm', () => {
    expect(programName('/home/deploy/switchyard/deploy.ts')).toBe('./deploy.ts');
    expect(programName('/home/deploy/switchyard/dist/deploy.mjs')).toBe('./deploy.ts');
    expect(programName('/usr/local/bin/switchyard')).toBe('switchyard');
    expect(programName('/srv/app/node_modules/.bin/switchyard')).toBe('switchyard');
    expect(programName(undefined)).toBe('./deploy.ts');
  });

  it('replaces ./deploy.ts as a command, not inside a path or a longer name', () => {
    const line = 'error: no .env; run `./deploy.ts init --app NAME`, then ./deploy.ts deploy. (./deploy.ts) DEPLOY_ENV_FILE=x ./deploy.ts status';
    expect(asInvoked(line, 'switchyard')).toBe('error: no .env; run `switchyard init --app NAME`, then switchyard deploy. (switchyard) DEPLOY_ENV_FILE=x switchyard status');
    expect(asInvoked('/home/x/switchyard/deploy.ts and ./deploy.tsx and ./deploy.ts.bak', 'switchyard')).toBe('/home/x/switchyard/deploy.ts and ./deploy.tsx and ./deploy.ts.bak');
    expect(asInvoked('./deploy.ts deploy', './deploy.ts')).toBe('./deploy.ts deploy');
  });
});

describe('where the configuration lives by default', () => {
  const home = '/home/deploy';
  it('a git clone keeps .env beside deploy.ts', () => {
    expect(defaultConfigDir('/home/deploy/switchyard', {}, 1000, home)).toBe('/home/deploy/switchyard');
    expect(defaultConfigDir('/opt/switchyard', {}, 0, '/root')).toBe('/opt/switchyard');
  });
  it('an npm install keeps it outside the package: /etc/switchyard for root, XDG_CONFIG_HOME or ~/.config for others', () => {
    const global = '/usr/local/lib/node_modules/switchyard';
    expect(isPackageInstall(global)).toBe(true);
    expect(defaultConfigDir(global, {}, 0, '/root')).toBe('/etc/switchyard');
    expect(defaultConfigDir(global, { HOME: home }, 1000, '/nowhere')).toBe('/home/deploy/.config/switchyard');
    expect(defaultConfigDir(global, {}, 1000, home)).toBe('/home/deploy/.config/switchyard');
    expect(defaultConfigDir(global, { XDG_CONFIG_HOME: '/cfg' }, 1000, home)).toBe('/cfg/switchyard');
    // A relative XDG_CONFIG_HOME is ignored, as the XDG base directory specification says.
    expect(defaultConfigDir(global, { XDG_CONFIG_HOME: 'cfg', HOME: home }, 1000, home)).toBe('/home/deploy/.config/switchyard');
    expect(defaultConfigDir('/srv/app/node_modules/switchyard', {}, 1000, home)).toBe('/home/deploy/.config/switchyard');
  });
});
