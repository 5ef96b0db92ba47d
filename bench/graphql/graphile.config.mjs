// PostGraphile 5 over Enamel's PostgreSQL store, for bench/graphql/run.sh.
// Production-ish: no GraphiQL, no watch mode, no explain, no mutations (Enamel's API is
// read-only over synced rows). The pool is as large as Enamel's (16 connections).
import { PostGraphileAmberPreset } from "postgraphile/presets/amber";
import { makePgService } from "postgraphile/adaptors/pg";
import { makePgSmartTagsFromFilePlugin } from "postgraphile/utils";

const here = new URL(".", import.meta.url).pathname;

/** @type {GraphileConfig.Preset} */
const preset = {
  extends: [PostGraphileAmberPreset],
  // Enamel declares no foreign keys between synced tables (ARCHITECTURE.md, "References
  // cannot dangle"): the relations come from this tags file instead.
  plugins: [makePgSmartTagsFromFilePlugin(`${here}postgraphile.tags.json5`)],
  disablePlugins: ["MutationPlugin"],
  pgServices: [
    makePgService({
      connectionString: process.env.DATABASE_URL,
      schemas: ["public"],
      poolConfig: { max: 16 },
    }),
  ],
  schema: {
    // Enamel puts NULLs last in every ordered list; do the same.
    pgOrderByNullsLast: true,
  },
  grafserv: {
    host: "127.0.0.1",
    port: Number(process.env.PORT ?? 5678),
    graphiql: false,
    graphqlOverGET: false,
    watch: false,
  },
  grafast: { explain: false },
};

export default preset;
