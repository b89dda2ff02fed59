// The "build step": records which VERSION was built and when, so a deploy can prove it ran.
import { readFileSync, writeFileSync } from 'node:fs';

const version = readFileSync(new URL('./VERSION', import.meta.url), 'utf8').trim();
const info = { version, builtAt: new Date().toISOString() };
writeFileSync(new URL('./build-info.json', import.meta.url), JSON.stringify(info, null, 2) + '\n');
console.log(`example-app: built ${version} -> build-info.json`);
