import { describeKills, LIVE_FILE_KILL_POINTS } from '../support/kill-tests.ts';

// The default mode killed from the start of the new slot on (the second half of its kill points).
describeKills('nginx-live-file', LIVE_FILE_KILL_POINTS.slice(6));
