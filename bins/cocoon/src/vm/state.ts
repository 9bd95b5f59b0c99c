/** The live state of a VM record: moved to `@cocoon/common/vm-state` (cocoon-console and cocoon-gc use it too). */
export { isLive, isStale, liveState, withLiveState } from '@cocoon/common/vm-state';
