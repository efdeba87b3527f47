/** PostgreSQL helpers: one transaction, and a savepoint inside one. */
export { undoOnThrow, withTransaction } from "./transaction.js";
