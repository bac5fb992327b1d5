/**
 * What `msp up` (and `msp server`) say about deployments this machine does not run: those of environments
 * whose runtime is kubernetes or gcp are generated (`msp generate`) and applied by Argo CD or Terraform.
 * Also the targets the control plane registers for them.
 */
import type { TargetFactory } from '@msp/control-plane';

export async function remoteTargets(): Promise<Record<string, TargetFactory>> {
  const { createKubernetesTarget, createGcpTarget } = await import('@msp/control-plane');
  return { kubernetes: createKubernetesTarget(), gcp: createGcpTarget() };
}

/** One line per deployment not run locally, saying where it runs and why. Empty when all run here. */
export async function notRunHere(repoDir: string): Promise<string[]> {
  const { loadPlatformRepo, deploymentsOf } = await import('@msp/spec');
  const { kubeconfigOf } = await import('@msp/control-plane');
  const { repo } = await loadPlatformRepo(repoDir);
  if (!repo) return [];
  const lines: string[] = [];
  for (const d of deploymentsOf(repo)) {
    const runtime = d.envConfig.runtime;
    if (runtime === 'local') continue;
    const name = d.instance?.id ?? d.service.service.id;
    const dir = `generated/${runtime}/${d.environment.id}/${name}`;
    const observed =
      runtime === 'kubernetes'
        ? kubeconfigOf()
          ? `status read from the cluster (kubeconfig ${kubeconfigOf()})`
          : 'generated, not observed (set KUBECONFIG to read its status from the cluster)'
        : 'generated, not observed';
    lines.push(
      `msp: not run on this machine: ${d.key}: environment ${d.environment.id} has runtime ${runtime}, so ` +
        `\`msp generate\` writes it to ${dir} and ${runtime === 'kubernetes' ? 'Argo CD' : 'Terraform'} applies it; ${observed}`,
    );
  }
  return lines;
}
