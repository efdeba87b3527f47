/** Progress lines for a person watching `stack up`; the CLI prints them to stderr. */
export type Reporter = (line: string) => void;

export const silentReporter: Reporter = () => undefined;
