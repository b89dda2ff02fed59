// Example `end` hook: post a JSON notification after a successful deploy or rollback.
// Copy to your hooks folder (HOOKS_DIR, default deploy/hooks beside your .env) with package.json.
// NOTIFY_URL (e.g. a Slack or Mattermost incoming webhook) comes from the environment of the deploy.
const url = process.env.NOTIFY_URL;
if (!url) {
  console.log('NOTIFY_URL is not set: no notification sent');
} else {
  const env = process.env;
  const text = `${env.SWITCHYARD_APP_NAME}: ${env.SWITCHYARD_COMMAND} of ${env.SWITCHYARD_COMMIT?.slice(0, 7)} to slot ${env.SWITCHYARD_SLOT} done (was ${env.SWITCHYARD_PREVIOUS_COMMIT?.slice(0, 7) || 'nothing'})`;
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      text,
      app: env.SWITCHYARD_APP_NAME,
      command: env.SWITCHYARD_COMMAND,
      slot: env.SWITCHYARD_SLOT,
      commit: env.SWITCHYARD_COMMIT,
    }),
    signal: AbortSignal.timeout(5000),
  });
  // After the switch a failing hook is reported, never undoes the deploy; say clearly why it failed.
  if (!response.ok) throw new Error(`notification to ${new URL(url).host} failed: HTTP ${response.status}`);
  console.log(`notified ${new URL(url).host}`);
}
