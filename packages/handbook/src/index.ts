export { generateHandbook, formatTimestamp } from './generate.js';
export type { GenerateHandbookOptions, HandbookFile } from './generate.js';
export { architectureDot, renderArchitectureDiagram, renderSvg } from './diagram.js';
export type { ArchitectureModel } from './diagram.js';
export { REGENERATE_COMMAND } from './service-page.js';
