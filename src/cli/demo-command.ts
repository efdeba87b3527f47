/** `sagastream demo`: the main job. Until the saga engine lands it brings the stack up. */
import { Command } from "commander";
import { loadConfig } from "../config/index.js";
import { Stack } from "../stack/index.js";

export function demoCommand(): Command {
  return new Command("demo")
    .description("run the worked order saga end to end on the local stack (starting it if needed)")
    .action(async () => {
      const stack = new Stack(loadConfig(), (line) => process.stderr.write(`stack: ${line}\n`));
      await stack.up({ dr: true });
      process.stdout.write(
        "The stack is up (stop it with `npx sagastream stack down`).\n" +
          "The order saga demo arrives with the saga engine (issue 5).\n",
      );
    });
}
