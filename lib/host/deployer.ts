import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/**
 * Who runs a deploy, for the history, the lock holder and --json: SWITCHYARD_USER, else SUDO_USER,
 * else the comment of the SSH key the session logged in with (sshd's `ExposeAuthInfo yes` names it
 * in the file SSH_USER_AUTH), else the login. The command frame asks once and hands the name on
 * (lib/cli/command.ts cycleContext): sshd removes SSH_USER_AUTH when the session ends, and a deploy
 * outlives a dropped connection.
 */

/** Who deploys, from the operator's own environment (not the app's clean one, which keeps none of these). */
export function deployerName(env: Record<string, string | undefined>): string {
  return env.SWITCHYARD_USER?.trim() || env.SUDO_USER || sshKeyComment(env) || loginName();
}

/** The comment of the authorized key the SSH session used, or undefined (no ExposeAuthInfo, no comment, no match). */
export function sshKeyComment(env: Record<string, string | undefined>, home: string = homeDir()): string | undefined {
  if (!env.SSH_USER_AUTH) return undefined;
  let auth: string;
  let authorized: string;
  try {
    auth = readFileSync(env.SSH_USER_AUTH, 'utf8');
    authorized = readFileSync(path.join(home, '.ssh', 'authorized_keys'), 'utf8');
  } catch {
    return undefined;
  }
  return keyComment(auth, authorized);
}

/**
 * Pure: `auth` is SSH_USER_AUTH's text (`publickey ssh-ed25519 AAAA...` lines, the last one is the
 * key that logged in), `authorized` is authorized_keys; the comment of the line holding that key.
 */
export function keyComment(auth: string, authorized: string): string | undefined {
  const used = auth.split('\n').map((line) => line.trim().split(/\s+/)).filter((words) => words[0] === 'publickey' && words[2]).at(-1)?.[2];
  if (!used) return undefined;
  for (const line of authorized.split('\n')) {
    const words = line.trim().split(/\s+/);
    const at = words.indexOf(used);
    if (line.trim().startsWith('#') || at < 1) continue;
    const comment = words.slice(at + 1).join(' ').trim();
    return comment || undefined;
  }
  return undefined;
}

function loginName(): string {
  try {
    return os.userInfo().username;
  } catch {
    return String(process.getuid?.() ?? 'unknown');
  }
}

function homeDir(): string {
  try {
    return os.userInfo().homedir;
  } catch {
    return os.homedir();
  }
}
