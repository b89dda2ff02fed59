// Loaded with --import by deploy.ts: resolving tsx from here (not from the caller's working
// directory) lets ./deploy.ts run from any folder, over SSH, and through a symlink in PATH.
import 'tsx';
