import { describeKills, RELOAD_KILL_POINTS } from '../support/kill-tests.ts';

describeKills('nginx-reload', RELOAD_KILL_POINTS);
