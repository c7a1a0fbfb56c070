#!/usr/bin/env node
// The certpin command: runs the compiled CLI (dist is built by `npm run build`, and before packing by `prepack`).
import { runCli } from '../dist/cli/main.js';

runCli();
