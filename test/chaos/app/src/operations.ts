/** The chaos harness's app: what `operon build` bundles and `operon start` serves. */
export { ChaosOrders } from './orders.js';
export { ChaosCollector } from './collector.js';
export { ChaosEcho } from './echo.js';
export { ChaosLedger } from './ledger.js';
export { ChaosFanout } from './fanout.js';
export { ChaosValues } from './values.js';
export { ChaosIdentity } from './identity.js';
export { ChaosMessages } from './messages.js';
