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
const NO_SECRETS: readonly string[] = [];

/** Called once a command knows its config, so writers that never see the config (the state file) hide them too. */
export function announceSecrets(secrets: readonly string[]): void {
  for (const secret of secrets) for (const form of secretForms(secret)) announced.add(form);
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
export function redact(text: string, secrets: readonly string[] = NO_SECRETS): string {
  let result = redactUrlCredentials(text);
  for (const secret of formsToHide(secrets)) result = result.split(secret).join(REDACTED);
  return result;
}

/** The forms of `secrets` and the announced ones, longest first (so a secret that contains another is hidden whole); kept per list, as every output line asks again. */
const formsCache = new WeakMap<readonly string[], { key: string; forms: string[] }>();
function formsToHide(secrets: readonly string[]): string[] {
  const key = `${secrets.length}/${announced.size}`;
  const cached = formsCache.get(secrets);
  if (cached?.key === key) return cached.forms;
  const forms = [...new Set([...secrets.flatMap(secretForms), ...announced])].sort((a, b) => b.length - a.length);
  formsCache.set(secrets, { key, forms });
  return forms;
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

/**
 * Every form in which a secret value can reach an output line: the value itself, each of its lines
 * (output comes one line at a time, so a PEM key is only ever seen line by line), its JSON-escaped
 * and URL-encoded forms, and the password inside a URL it holds, encoded and decoded. Pure.
 */
export function secretForms(value: string): string[] {
  const forms = new Set<string>();
  const add = (form: string) => {
    if (form.trim().length >= MIN_SECRET_LENGTH) forms.add(form);
  };
  const bases = [value, ...value.split(/\r?\n|\r/).map((line) => line.trim()), ...urlPasswords(value)];
  for (const base of bases) {
    add(base);
    add(JSON.stringify(base).slice(1, -1));
    add(encodeURIComponent(base));
  }
  return [...forms];
}

/** The passwords (`user:PASSWORD@`) written in the URLs inside `value`, as written and percent-decoded. Pure. */
export function urlPasswords(value: string): string[] {
  const passwords: string[] = [];
  for (const match of value.matchAll(/\b[a-z][a-z0-9+.-]*:\/\/[^/@\s'":]*:([^/@\s'"]+)@/gi)) {
    passwords.push(match[1]);
    try {
      const decoded = decodeURIComponent(match[1]);
      if (decoded !== match[1]) passwords.push(decoded);
    } catch {
      // Not valid percent-encoding: the written form is the only one.
    }
  }
  return passwords;
}

/** The URL passwords in any of `values` (whatever the key is called: DATABASE_URL holds one), for the secret list. Pure. */
export function urlSecrets(values: Iterable<string | undefined>): string[] {
  return [...values].flatMap((value) => (value ? urlPasswords(value) : []));
}

/** Keys whose values are secrets wherever they appear. */
export const SECRET_KEY_PATTERN = /(TOKEN|SECRET|PASSWORD|PASSWD|KEY|CREDENTIALS?)$/i;

/** Values of secret-looking keys, from the env file and the environment the hooks and apps inherit. */
export function collectSecrets(values: Record<string, string | undefined>, repo: string): string[] {
  const secrets = Object.entries(values)
    .filter((entry): entry is [string, string] => SECRET_KEY_PATTERN.test(entry[0]) && typeof entry[1] === 'string' && entry[1].length >= 4)
    .map(([, value]) => value);
  // A password inside a URL is a secret whatever its key is called (DATABASE_URL=postgres://app:p%40ss@db).
  secrets.push(...urlSecrets(Object.values(values)));
  // user:password in any URL; a lone user only in http(s), where it is a token (ssh://deploy@host is just a login).
  const credentials = /^([a-z][a-z0-9+.-]*):\/\/([^@/]+)@/i.exec(repo);
  if (credentials && (credentials[2].includes(':') || /^https?$/i.test(credentials[1]))) secrets.push(credentials[2]);
  return secrets;
}
