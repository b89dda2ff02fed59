/**
 * The one place secrets are taken out of text before it leaves the process (terminal, JSON, the
 * state file, hook environments, logs). Values to hide come from the config (secret-named keys,
 * credentials in REPO); credentials written inside any URL are hidden whether known or not.
 */

export const REDACTED = '[REDACTED]';

/** Shorter values would blank out ordinary words. */
const MIN_SECRET_LENGTH = 4;

/**
 * What a command hides in everything it writes: its config's secrets in every form (secretForms) and any
 * URL credentials. Made once per command from its config (redactorFor) and handed to each writer (the
 * reporter, the state file, hook environments, logs, the fleet controller's output).
 */
export type Redactor = {
  redact(text: string): string;
  /** A JSON-able value with every string in it redacted (keys too), for JSON writers. */
  redactValue<T>(value: T): T;
};

/** The redactor for `source`'s secrets (a Config, or any list of them); their forms are worked out once, here. */
export function redactorFor(source: { readonly secrets: readonly string[] }): Redactor {
  const forms = formsToHide(source.secrets);
  const redactText = (text: string) => hideForms(redactUrlCredentials(text), forms);
  return { redact: redactText, redactValue: (value) => mapStrings(value, redactText) };
}

/** Hides URL credentials only: for writers that run before a config is known. */
export const URL_CREDENTIALS_ONLY: Redactor = redactorFor({ secrets: [] });

/**
 * `https://user:password@host` or `https://token@host` → `https://[REDACTED]@host`. Pure. A bare
 * user name of another scheme (`ssh://git@host`) is not a credential and stays.
 */
export function redactUrlCredentials(text: string): string {
  return text.replace(/\b([a-z][a-z0-9+.-]*):\/\/([^/@\s'"]+)@/gi, (whole, scheme: string, userinfo: string) =>
    /^https?$/i.test(scheme) || userinfo.includes(':') ? `${scheme}://${REDACTED}@` : whole,
  );
}

/** Text with each of `secrets` (in every form) and any URL credentials replaced by [REDACTED]. Pure. */
export function redact(text: string, secrets: readonly string[] = []): string {
  return hideForms(redactUrlCredentials(text), formsToHide(secrets));
}

/** A JSON-able value with every string in it redacted (keys too), for JSON writers. Pure. */
export function redactValue<T>(value: T, secrets: readonly string[] = []): T {
  const forms = formsToHide(secrets);
  return mapStrings(value, (text) => hideForms(redactUrlCredentials(text), forms));
}

/** The forms of `secrets`, longest first, so a secret that contains another is hidden whole. */
function formsToHide(secrets: readonly string[]): string[] {
  return [...new Set(secrets.flatMap(secretForms))].sort((a, b) => b.length - a.length);
}

function hideForms(text: string, forms: readonly string[]): string {
  let result = text;
  for (const form of forms) result = result.split(form).join(REDACTED);
  return result;
}

function mapStrings<T>(value: T, each: (text: string) => string): T {
  if (typeof value === 'string') return each(value) as T;
  if (Array.isArray(value)) return value.map((item) => mapStrings(item, each)) as T;
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [each(key), mapStrings(item, each)])) as T;
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
