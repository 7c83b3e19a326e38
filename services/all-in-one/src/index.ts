export { banner } from './banner.js';
export { type Embedded, EmbeddedConfigError, type EmbeddedOptions, startEmbedded } from './embedded.js';
