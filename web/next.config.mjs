// Static export (web/out/), served on :3000 by deploy/local/webui.py and by Envoy at /ui/.
// The UI lives under its own prefix, /ui/, so the edge can make exactly that prefix public
// without a route that could match a REST path (gateway/policy.py PREFIX_RULES).
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const sdk = path.resolve(here, "../sdk/typescript/src");

/** @type {import('next').NextConfig} */
const nextConfig = {
  output: "export",
  basePath: "/ui",
  trailingSlash: true,
  reactStrictMode: true,
  poweredByHeader: false,
  images: { unoptimized: true },
  experimental: { externalDir: true },
  webpack: (config) => {
    // The generated SDK is compiled from its TypeScript sources (sdk/typescript/src): its
    // imports say ".js" (NodeNext) and its packages are web/'s (same pinned versions).
    config.resolve.alias = { ...config.resolve.alias, "@ai4vc/sdk": sdk };
    config.resolve.extensionAlias = { ".js": [".ts", ".tsx", ".js"] };
    config.resolve.modules = [path.resolve(here, "node_modules"), "node_modules"];
    return config;
  },
};

export default nextConfig;
