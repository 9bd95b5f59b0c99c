export function specsDir(): string;
export interface SpecValidator {
  validate(method: string, path: string, body: unknown): string[];
  validateComponent(name: string, value: unknown): string[];
  doc: { paths: Record<string, Record<string, unknown>> };
}
export function loadSpec(kind: 'cloud-hypervisor' | 'firecracker'): SpecValidator;
