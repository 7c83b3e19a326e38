export { BatchbridgeError, type BatchbridgeErrorOptions } from './batchbridge-error.js';
