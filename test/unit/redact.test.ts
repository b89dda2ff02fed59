import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { redact, redactorFor, redactValue, secretForms, URL_CREDENTIALS_ONLY, urlPasswords, urlSecrets } from '../../lib/config/redact.ts';

/** What secrets look like in output: a whole multi-line value, one line of it, JSON-escaped, URL-encoded. */
const PEM = generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();

describe('secretForms', () => {
  it('names the value, each of its lines, and their JSON-escaped and URL-encoded forms; short lines are left out', () => {
    const forms = secretForms('first-line\nsecond "quoted"\nab\n');
    expect(forms).toContain('first-line\nsecond "quoted"\nab\n');
    expect(forms).toContain('first-line');
    expect(forms).toContain('second "quoted"');
    expect(forms).toContain('second \\"quoted\\"');
    expect(forms).toContain('first-line\\nsecond \\"quoted\\"\\nab\\n');
    expect(forms).toContain('second%20%22quoted%22');
    expect(forms).not.toContain('ab');
  });

  it('takes the password out of a URL, as written and percent-decoded', () => {
    expect(urlPasswords('postgres://app:p%40ss%2Fw0rd@db:5432/x')).toEqual(['p%40ss%2Fw0rd', 'p@ss/w0rd']);
    expect(urlPasswords('ssh://git@github.com/a/b.git and https://token@host/x')).toEqual([]);
    expect(urlPasswords('redis://:s3cr3t@cache and amqp://u:bad%zz@mq')).toEqual(['s3cr3t', 'bad%zz']);
    expect(urlSecrets(['plain', undefined, 'mysql://root:hunter22@127.0.0.1/db'])).toEqual(['hunter22']);
  });
});

describe('redact', () => {
  it('hides every line of a PEM key, one line at a time, as output arrives', () => {
    const lines = PEM.trim().split('\n');
    expect(lines.length).toBeGreaterThan(2);
    for (const line of lines) expect(redact(`  build │ ${line}`, [PEM])).toBe('  build │ [REDACTED]');
    expect(redact(`key=${PEM}`, [PEM])).toBe('key=[REDACTED]');
  });

  it('hides the JSON-escaped value inside a JSON event line', () => {
    expect(redact(`dump: ${JSON.stringify({ key: PEM })}`, [PEM])).toBe('dump: {"key":"[REDACTED]"}');
    // Escaped twice (a JSON event carrying a line that holds JSON): still nothing of the key is left.
    const redacted = redact(JSON.stringify({ event: 'output', line: `dump: ${JSON.stringify({ key: PEM })}` }), [PEM]);
    expect(JSON.parse(redacted).line).toMatch(/^dump: \{"key":"\[REDACTED\]/);
    for (const body of PEM.trim().split('\n').slice(1, -1)) expect(redacted).not.toContain(body);
    expect(redactValue({ line: `"${PEM}"` }, [PEM])).toEqual({ line: '"[REDACTED]"' });
  });

  it('hides a URL password in the URL, alone, percent-decoded, and re-encoded', () => {
    const url = 'postgres://app:p%40ss-w0rd@127.0.0.1:5432/app';
    const secrets = urlSecrets([url]);
    expect(redact(`connecting to ${url}`, secrets)).toBe('connecting to postgres://[REDACTED]@127.0.0.1:5432/app');
    expect(redact('password p@ss-w0rd rejected', secrets)).toBe('password [REDACTED] rejected');
    expect(redact('raw p%40ss-w0rd', secrets)).toBe('raw [REDACTED]');
    expect(redact('{"password":"p@ss-w0rd"}', secrets)).toBe('{"password":"[REDACTED]"}');
  });
});

describe('redactorFor', () => {
  it("hides its own config's secrets and nobody else's: a redactor made for one command leaves no trace in another", () => {
    const first = redactorFor({ secrets: ['tok-first-1234'] });
    const second = redactorFor({ secrets: ['tok-second-5678'] });
    expect(first.redact('a tok-first-1234 b tok-second-5678')).toBe('a [REDACTED] b tok-second-5678');
    expect(second.redact('a tok-first-1234 b tok-second-5678')).toBe('a tok-first-1234 b [REDACTED]');
    expect(redact('tok-first-1234 https://u:pw-x@h/')).toBe('tok-first-1234 https://[REDACTED]@h/');
    expect(URL_CREDENTIALS_ONLY.redact('tok-second-5678 https://token@h/')).toBe('tok-second-5678 https://[REDACTED]@h/');
  });

  it('hides the longer of two overlapping secrets whole, in text and in every string (keys too) of a JSON value', () => {
    const redactor = redactorFor({ secrets: ['abcd', 'abcdefgh'] });
    expect(redactor.redact('x abcdefgh y abcd')).toBe('x [REDACTED] y [REDACTED]');
    expect(redactor.redactValue({ abcdefgh: ['abcd', 3, null, { k: 'p abcdefgh' }] })).toEqual({ '[REDACTED]': ['[REDACTED]', 3, null, { k: 'p [REDACTED]' }] });
  });
});
