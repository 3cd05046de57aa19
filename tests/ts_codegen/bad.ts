// A call with a wrong argument type: tests/test_codegen.py expects tsc to refuse this file.
import { ConvexHttpClient } from "convex/browser";
import { api } from "./generated/api";

export async function wrong(client: ConvexHttpClient): Promise<void> {
  // `numItems` is a number.
  await client.query(api.threads.list, { paginationOpts: { numItems: "20", cursor: null } });
}
