/** The live state of a VM record: in `@cocoon/common/vm-state` (cocoon-console and cocoon-gc use it too). */
export { creationInterrupted, findHypervisor, interruptedReason, isLive, isStale, liveState, withLiveState, type FoundHypervisor } from '@cocoon/common/vm-state';
