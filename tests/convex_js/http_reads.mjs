// The official ConvexHttpClient (npm convex 1.48.0, under Node) reading a Threadline server's
// answers: run by tests/test_convex_json.py as  node http_reads.mjs <url>  with TL_KEY (the API
// key, sent through setAuth as "Bearer") and TL_CALLS (a JSON array of {path, args}).
// Prints one JSON line per call: {"value": <the decoded result>} or {"threw": <its message>}.
// jsonToConvex throws on object keys Convex does not allow, so "threw" is what a Convex app sees.
import { ConvexHttpClient } from "convex/browser";
import { anyApi } from "convex/server";

const [url] = process.argv.slice(2);
const client = new ConvexHttpClient(url, { logger: false });
client.setAuth(process.env.TL_KEY);

for (const { path, args } of JSON.parse(process.env.TL_CALLS)) {
  const [module, name] = path.split(":");
  try {
    const value = await client.query(anyApi[module][name], args);
    console.log(JSON.stringify({ value }));
  } catch (error) {
    console.log(JSON.stringify({ threw: String(error && error.message) }));
  }
}
