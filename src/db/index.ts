/** PostgreSQL helpers: one transaction, and a savepoint inside one. */
export { withSavepoint, withTransaction } from "./transaction.js";
