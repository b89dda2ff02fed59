import http from 'node:http';

/**
 * Users, not connections: each has its own User-Agent (so nginx hashes users without a cookie apart)
 * and its own cookie jar (keeps what nginx sets), and asks GET / in a loop through nginx, one request
 * at a time. What a canary promises is per user: one version for the whole canary.
 */

export type UserAnswer = { user: number; at: number; status: number | null; version: string | null; error: string | null };
export type Users = { answers: UserAnswer[]; stop(): Promise<UserAnswer[]> };

export function startUsers(options: { port: number; users: number; maxDurationMs: number; pauseMs?: number; cookies?: boolean }): Users {
  const answers: UserAnswer[] = [];
  const deadline = Date.now() + options.maxDurationMs;
  let stopping = false;
  const agent = new http.Agent({ keepAlive: true, maxSockets: options.users });
  const one = (user: number, jar: Map<string, string>): Promise<UserAnswer> =>
    new Promise((resolve) => {
      const cookie = [...jar].map(([name, value]) => `${name}=${value}`).join('; ');
      const at = Date.now();
      const headers = { 'user-agent': `canary-user-${user}`, ...(cookie ? { cookie } : {}) };
      const request = http.get({ host: '127.0.0.1', port: options.port, path: '/', agent, timeout: 10_000, headers }, (response) => {
        for (const line of response.headers['set-cookie'] ?? []) {
          const [pair] = line.split(';');
          const [name, value] = pair.split('=');
          if (options.cookies !== false && name && value !== undefined) jar.set(name.trim(), value.trim());
        }
        let body = '';
        response.setEncoding('utf8');
        response.on('data', (chunk) => (body += chunk));
        response.on('end', () => {
          let version: string | null = null;
          try {
            version = (JSON.parse(body) as { version?: string }).version ?? null;
          } catch {
            // Not the app's JSON: nginx's own error page.
          }
          resolve({ user, at, status: response.statusCode ?? null, version, error: null });
        });
      });
      request.on('timeout', () => request.destroy(new Error('timeout')));
      request.on('error', (error) => resolve({ user, at, status: null, version: null, error: error.message }));
    });
  const loops = Array.from({ length: options.users }, async (_, user) => {
    const jar = new Map<string, string>();
    while (!stopping && Date.now() < deadline) {
      answers.push(await one(user, jar));
      if (options.pauseMs) await new Promise((resolve) => setTimeout(resolve, options.pauseMs));
    }
  });
  return {
    answers,
    async stop() {
      stopping = true;
      await Promise.all(loops);
      agent.destroy();
      return answers;
    },
  };
}

/** The versions each user saw, by user. */
export function versionsByUser(answers: readonly UserAnswer[], since = 0, until = Infinity): Map<number, Set<string>> {
  const byUser = new Map<number, Set<string>>();
  for (const answer of answers) {
    if (answer.at < since || answer.at > until || !answer.version) continue;
    const seen = byUser.get(answer.user) ?? new Set<string>();
    seen.add(answer.version);
    byUser.set(answer.user, seen);
  }
  return byUser;
}

export const failedAnswers = (answers: readonly UserAnswer[]) => answers.filter((answer) => answer.status !== 200);
