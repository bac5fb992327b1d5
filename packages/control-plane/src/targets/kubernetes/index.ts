/**
 * The kubernetes target: deployments of environments with `runtime: kubernetes` are generated
 * (`msp generate`), committed and applied by Argo CD; the control plane checks the hand-over and, when a
 * kubeconfig is configured (option, MSP_KUBECONFIG or KUBECONFIG), reads each deployment's pods from the
 * cluster with @kubernetes/client-node. Without one, its status says "generated, not observed".
 */
import type { DeploymentRuntimeStatus, InstanceStatus } from '../../runtime-port.js';
import type { TargetFactory } from '../registry.js';
import { createGitopsTarget, type HandedOver } from '../gitops.js';

export interface KubernetesTargetOptions {
  /** Path of a kubeconfig; default MSP_KUBECONFIG, else KUBECONFIG. None: not observed. */
  kubeconfig?: string;
  /** How often pods are read (default 10 s, or MSP_KUBERNETES_POLL_MS). */
  pollMs?: number;
}

export const NOT_OBSERVED = 'generated, not observed';

/** The kubeconfig the target would use, if any. */
export function kubeconfigOf(options: KubernetesTargetOptions = {}): string | undefined {
  return options.kubeconfig ?? process.env.MSP_KUBECONFIG ?? process.env.KUBECONFIG ?? undefined;
}

interface PodLike {
  metadata?: { name?: string };
  status?: {
    phase?: string;
    conditions?: { type: string; status: string }[];
    containerStatuses?: { restartCount: number; image?: string; state?: { waiting?: { reason?: string } } }[];
  };
}

/** A pod as an instance: healthy when Ready, else its waiting reason or phase. */
export function instanceOfPod(pod: PodLike): InstanceStatus {
  const ready = pod.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True');
  const containers = pod.status?.containerStatuses ?? [];
  const waiting = containers.map((c) => c.state?.waiting?.reason).find((r) => r !== undefined);
  const image = containers[0]?.image;
  const tag = image && /:([^:/@]+)$/.exec(image)?.[1];
  return {
    id: pod.metadata?.name ?? '?',
    state: ready ? 'healthy' : (waiting ?? (pod.status?.phase ?? 'unknown').toLowerCase()),
    restarts: containers.reduce((n, c) => n + c.restartCount, 0),
    ...(tag ? { release: tag } : {}),
    ...(waiting ? { lastError: waiting } : {}),
  };
}

export function createKubernetesTarget(options: KubernetesTargetOptions = {}): TargetFactory {
  return ({ store, repoDir }) => {
    const kubeconfig = kubeconfigOf(options);
    const observed = new Map<string, { instances: InstanceStatus[] }>();
    const watched = new Map<string, HandedOver>();
    let timer: NodeJS.Timeout | undefined;
    let listPods: ((namespace: string, selector: string) => Promise<PodLike[]>) | undefined;

    const observe = async () => {
      if (!kubeconfig) return;
      if (!listPods) {
        try {
          const k8s = await import('@kubernetes/client-node');
          const kc = new k8s.KubeConfig();
          kc.loadFromFile(kubeconfig);
          const core = kc.makeApiClient(k8s.CoreV1Api);
          listPods = async (namespace, labelSelector) =>
            (await core.listNamespacedPod({ namespace, labelSelector })).items;
        } catch (error) {
          const message = `cannot use the kubeconfig ${kubeconfig}: ${error instanceof Error ? error.message : String(error)}`;
          for (const h of watched.values())
            observed.set(h.key, {
              instances: [{ id: h.namespace, state: 'unobserved', restarts: 0, lastError: message }],
            });
          return;
        }
      }
      for (const h of watched.values()) {
        try {
          const pods = await listPods(h.namespace, `app.kubernetes.io/name=${h.workload}`);
          observed.set(h.key, {
            instances: pods.map(instanceOfPod).sort((a, b) => a.id.localeCompare(b.id)),
          });
        } catch (error) {
          const message = error instanceof Error ? error.message : String(error);
          observed.set(h.key, {
            instances: [
              { id: h.namespace, state: 'unobserved', restarts: 0, lastError: message.slice(0, 200) },
            ],
          });
        }
      }
    };
    const schedule = () => {
      const every = options.pollMs ?? Number(process.env.MSP_KUBERNETES_POLL_MS ?? 10_000);
      timer = setTimeout(() => {
        // observe() keeps each deployment's error with it; it never rejects.
        void observe()
          .catch(() => undefined)
          .finally(() => {
            if (timer) schedule();
          });
      }, every);
      timer.unref();
    };

    const status = (h: HandedOver): DeploymentRuntimeStatus => ({
      key: h.key,
      instances: observed.get(h.key)?.instances ?? [
        {
          id: h.namespace,
          state: kubeconfig ? 'not observed yet' : NOT_OBSERVED,
          restarts: 0,
          lastError: kubeconfig
            ? h.detail
            : `${h.detail}; no kubeconfig (set KUBECONFIG) to observe the cluster`,
        },
      ],
      urls: h.urls,
      pendingRequests: 0,
    });

    return Promise.resolve(
      createGitopsTarget({
        target: 'kubernetes',
        store,
        repoDir,
        status,
        watch(h) {
          watched.set(h.key, h);
          if (kubeconfig && !timer) {
            void observe();
            schedule();
          }
        },
        stop() {
          clearTimeout(timer);
          timer = undefined;
          return Promise.resolve();
        },
        instead: {
          workloads:
            'Scale or restart it with kubectl (kubectl -n <namespace> rollout restart deployment/<service>).',
          backups:
            'CloudNativePG takes the base backups and archives WAL (ScheduledBackup, Barman Cloud ObjectStore); Velero backs up volumes; `msp generate <service> <env> --restore-to <time>` renders a restore.',
          logs: 'Read them with kubectl logs -n <namespace> deployment/<service>.',
          database: 'Connect with kubectl cnpg psql -n <namespace> <service>-db.',
        },
      }),
    );
  };
}
