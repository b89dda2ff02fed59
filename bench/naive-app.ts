import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const NAIVE_SERVER = fileURLToPath(new URL('./fixtures/naive-server.js', import.meta.url));

/** A git-less folder with the naive variant of the example app; setVersion before each start. */
export function makeNaiveApp(dir: string): { dir: string; setVersion(version: string): void } {
  mkdirSync(dir, { recursive: true });
  copyFileSync(NAIVE_SERVER, path.join(dir, 'server.js'));
  writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: 'naive-app', private: true, type: 'module' }, null, 2) + '\n');
  const setVersion = (version: string) => writeFileSync(path.join(dir, 'VERSION'), `${version}\n`);
  setVersion('v1');
  return { dir, setVersion };
}
