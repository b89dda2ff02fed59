/**
 * The one place secrets are taken out of text before it leaves the process (terminal, JSON, the
 * state file, hook environments, logs). Values to hide come from the config (secret-named keys,
 * credentials in REPO); credentials written inside any URL are hidden whether known or not.
 */

export const REDACTED = '[REDACTED]';

/** Shorter values would blank out ordinary words. */
const MIN_SECRET_LENGTH = 4;

/** Secrets announced by the command running now (its config), applied to every redact() call. */
const announced = new Set<string>();

/** Called once a command knows its config, so writers that never see the config (the state file) hide them too. */
export function announceSecrets(secrets: readonly string[]): void {
  for (const secret of secrets) if (secret.length >= MIN_SECRET_LENGTH) announced.add(secret);
}

/**
 * `https://user:password@host` or `https://token@host` → `https://[REDACTED]@host`. Pure. A bare
 * user name of another scheme (`ssh://git@host`) is not a credential and stays.
 */
export function redactUrlCredentials(text: string): string {
  return text.replace(/\b([a-z][a-z0-9+.-]*):\/\/([^/@\s'"]+)@/gi, (whole, scheme: string, userinfo: string) =>
    /^https?$/i.test(scheme) || userinfo.includes(':') ? `${scheme}://${REDACTED}@` : whole,
  );
}

/** Text with every known secret and any URL credentials replaced by [REDACTED]. */
export function redact(text: string, secrets: readonly string[] = []): string {
  let result = redactUrlCredentials(text);
  // Longest first, so a secret that contains another is hidden whole.
  const all = [...new Set([...secrets.filter((secret) => secret.length >= MIN_SECRET_LENGTH), ...announced])].sort((a, b) => b.length - a.length);
  for (const secret of all) result = result.split(secret).join(REDACTED);
  return result;
}

/** A JSON-able value with every string in it redacted (keys too), for JSON writers. */
export function redactValue<T>(value: T, secrets: readonly string[] = []): T {
  if (typeof value === 'string') return redact(value, secrets) as T;
  if (Array.isArray(value)) return value.map((item) => redactValue(item, secrets)) as T;
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [redact(key, secrets), redactValue(item, secrets)])) as T;
  }
  return value;
}
