// Public surface of @batchbridge/admin-ui: the operator web page (issue 7), mounted by the ingest API under /admin.
export { ADMIN_OFF_MESSAGE, type AdminRouterOptions, createAdminRouter } from './admin-router.js';
export { type BatchRow, type DeadLetterRow, type Overview, readOverview } from './overview.js';
