// Render the acceptance run as an HTML page for clinicians: every feature and scenario with
// pass or fail, the steps as written (with their tables), and the failure message if any.
// Usage: node generate.js FOLDER_WITH_CUCUMBER_JSON OUTPUT_FOLDER
"use strict";

const fs = require("node:fs");
const path = require("node:path");
const reporter = require("multiple-cucumber-html-reporter");

const [jsonDir, reportPath] = process.argv.slice(2);
if (!jsonDir || !reportPath) {
  console.error("usage: node generate.js FOLDER_WITH_CUCUMBER_JSON OUTPUT_FOLDER");
  process.exit(2);
}

const features = fs
  .readdirSync(jsonDir)
  .filter((name) => name.endsWith(".json"))
  .flatMap((name) => JSON.parse(fs.readFileSync(path.join(jsonDir, name), "utf8")));
const scenarios = features.flatMap((feature) => feature.elements);
const failed = scenarios.filter((s) => s.steps.some((step) => step.result.status === "failed"));

// Rule coverage (written next to the JSON folder by features/steps/report_tables.py): each
// rule with its pack version and how many scenarios exercised it. Text is escaped: the
// formatter inserts it as HTML.
const escapeHtml = (text) => String(text).replace(/[&<>"']/g, (c) => (
  { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
const coverageFile = path.join(path.dirname(path.resolve(jsonDir)), "rule-coverage.json");
const coverage = fs.existsSync(coverageFile)
  ? JSON.parse(fs.readFileSync(coverageFile, "utf8")) : {};

reporter.generate({
  jsonDir,
  reportPath,
  pageTitle: "jdm-cds acceptance scenarios",
  reportName: "jdm-cds: acceptance scenarios",
  pageFooter: "<div class='created-by'><p>jdm-cds acceptance scenarios (features/*.feature)</p></div>",
  hideMetadata: true,
  // The patient tables (step attachments) are shown without a click.
  customStyle: path.join(__dirname, "visible-tables.css"),
  displayDuration: false,
  disableLog: true,
  customData: {
    title: "This run",
    data: [
      { label: "Generated", value: new Date().toISOString().replace("T", " ").slice(0, 16) + " UTC" },
      { label: "Features", value: String(features.length) },
      { label: "Scenarios", value: `${scenarios.length} (${failed.length} failed)` },
      { label: "Step library", value: "features/README.md" },
      { label: "Rule coverage", value: "rule (pack version): scenarios that exercised it" },
      ...Object.entries(coverage).map(([rule, entry]) => ({
        label: escapeHtml(`${rule} (${entry.version})`),
        value: escapeHtml(String(entry.scenarios)),
      })),
    ],
  },
});
console.log(`acceptance report: ${path.join(reportPath, "index.html")}`);
