import { describeKills, LIVE_FILE_KILL_POINTS } from '../support/kill-tests.ts';

// The default mode killed before and while the release is built (the first half of its kill points).
describeKills('nginx-live-file', LIVE_FILE_KILL_POINTS.slice(0, 6));
