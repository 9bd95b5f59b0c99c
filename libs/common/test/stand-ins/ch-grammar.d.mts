export const CH_OPTIONS: Record<string, unknown>;
export function splitOptions(value: string): string[];
export function parseOption(flag: string, value: string): Record<string, string>;
export function parseArgv(argv: string[]): Record<string, unknown[]>;
export interface ChVmConfig {
  cpus: { boot_vcpus: number; max_vcpus: number; kvm_hyperv?: boolean };
  memory: { size: number; hugepages?: boolean };
  payload: Record<string, string>;
  disks?: Array<{ path: string; direct?: boolean } & Record<string, unknown>>;
  net?: Array<{ tap: string; num_queues?: number } & Record<string, unknown>>;
  balloon?: Record<string, unknown>;
  [key: string]: unknown;
}
export function vmConfigOf(parsed: Record<string, unknown[]>): ChVmConfig;
