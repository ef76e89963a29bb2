// deep.mjs URL: with the npm "webdav" client, builds a small tree and lists it with
// getDirectoryContents(..., {deep: true}), which sends PROPFIND Depth: infinity. Prints one JSON
// object: the entries (path, type, size) the client parsed, sorted.
import { createClient } from "webdav";

const url = process.argv[2];
const client = createClient(url);
await client.createDirectory("/deep");
await client.createDirectory("/deep/a");
await client.createDirectory("/deep/a/b");
await client.putFileContents("/deep/top.txt", "top\n");
await client.putFileContents("/deep/a/mid.txt", "middle\n");
await client.putFileContents("/deep/a/b/low file ü.txt", "bottom!\n");
const items = await client.getDirectoryContents("/deep", { deep: true });
const entries = items
  .map((i) => ({ path: i.filename, type: i.type, size: i.size }))
  .sort((x, y) => (x.path < y.path ? -1 : 1));
console.log(JSON.stringify({ entries }));
