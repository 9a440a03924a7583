/** The chaos harness's app: what `operon build` bundles and `operon start` serves. */
export { ChaosOrders } from './orders.js';
export { ChaosCollector } from './collector.js';
export { ChaosEcho } from './echo.js';
