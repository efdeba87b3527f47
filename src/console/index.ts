/** The operator's console served at /ui by every worker's API. */
export { consoleRoutes } from "./routes.js";
export type { ConsoleSources } from "./sources.js";
