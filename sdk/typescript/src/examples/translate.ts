// Example: translate text with NmtService.TranslateText through the edge (Envoy).
//
//   AI4VC_API_KEY=... node dist/examples/translate.js [--target http://127.0.0.1:8080]
//       [--protocol grpc|grpc-web] [--from hi] [--to ur] "text"
//
// Prints one translation per line; exits 1 with the error's code and reason on failure.
import { parseArgs } from "node:util";
import { client, createNodeTransport, errorDetails, nmt, ConnectError, Code } from "../node.js";

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    target: { type: "string", default: process.env.AI4VC_TARGET ?? "http://127.0.0.1:8080" },
    protocol: { type: "string", default: "grpc" },
    from: { type: "string", default: "hi" },
    to: { type: "string", default: "ur" },
  },
});

const apiKey = process.env.AI4VC_API_KEY;
if (!apiKey) {
  console.error("set AI4VC_API_KEY (make key NAME=example SCOPES=nmt)");
  process.exit(2);
}
if (positionals.length === 0) {
  console.error("usage: translate.js [--target URL] [--from hi] [--to ur] TEXT...");
  process.exit(2);
}

const transport = createNodeTransport({
  baseUrl: values.target.includes("://") ? values.target : `http://${values.target}`,
  credentials: { apiKey },
  protocol: values.protocol === "grpc-web" ? "grpc-web" : "grpc",
  timeoutMs: 15_000,
});
const translator = client(nmt.NmtService, transport);

try {
  const answer = await translator.translateText({
    contents: positionals,
    sourceLanguageCode: values.from,
    targetLanguageCode: values.to,
  });
  for (const translation of answer.translations) {
    console.log(translation.translatedText);
  }
} catch (error) {
  const err = ConnectError.from(error);
  const details = errorDetails(err);
  console.error(`error: ${Code[err.code]} ${details.reason ?? ""}: ${err.rawMessage}`);
  for (const violation of details.fieldViolations) {
    console.error(`  ${violation.field}: ${violation.description}`);
  }
  process.exit(1);
}
