export { createAlertsModule, type AlertsModuleOptions } from './module.js';
export { SIGNALS, type SignalName } from './sampler.js';
export { signBody, SIGNATURE_HEADER, TIMESTAMP_HEADER, type Notification } from './notify.js';
export type { IncidentRow, SilenceRow, DeliveryRow, SignalPoint } from './store.js';
