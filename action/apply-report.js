#!/usr/bin/env node
// After `retainctl apply --format markdown --out REPORT`: writes the job summary (also when
// apply failed before writing anything) and the step outputs exit-code, waiting, blocked,
// rejected from the JSON report. No npm dependencies.
//
// Environment: EXIT_CODE (apply's), REPORT_FILE (JSON), MARKDOWN_FILE (apply's stdout),
// GITHUB_STEP_SUMMARY, GITHUB_OUTPUT.
'use strict';

const fs = require('fs');

const OUTCOMES = ['written', 'already_there', 'waiting', 'blocked', 'failed', 'not_attempted'];

function read(path) {
  try {
    return fs.readFileSync(path, 'utf8');
  } catch (_) {
    return null;
  }
}

function append(file, text) {
  if (file) {
    fs.appendFileSync(file, text);
  }
}

function readReport(path) {
  const text = read(path);
  if (text === null) {
    return { report: null, problem: `no report at ${path}` };
  }
  let report;
  try {
    report = JSON.parse(text);
  } catch (e) {
    return { report: null, problem: `${path} is not JSON: ${e.message}` };
  }
  if (report.format_version !== 1 || report.kind !== 'apply' || typeof report.totals !== 'object') {
    return { report: null, problem: `${path} is not an apply report of format_version 1` };
  }
  return { report, problem: null };
}

function main() {
  const code = Number.parseInt(process.env.EXIT_CODE || '1', 10);
  const { report, problem } = readReport(process.env.REPORT_FILE || 'report.json');
  const markdown = read(process.env.MARKDOWN_FILE || 'apply.md') || '';
  const totals = {};
  for (const o of OUTCOMES) {
    totals[o] = report && Number.isInteger(report.totals[o]) ? report.totals[o] : 0;
  }
  const failedApps = report ? report.apps.filter((a) => a.error).length : 0;

  let summary = markdown.trim() ? markdown.replace(/\s*$/, '\n') : '';
  if (code !== 0 && code !== 2) {
    summary += `\n**retainctl apply failed (exit ${code})**`;
    summary += problem ? `: ${problem}; the job log has the error.\n` : '; see the report and the job log.\n';
  } else if (!summary) {
    summary = `retainctl apply: ${OUTCOMES.map((o) => `${totals[o]} ${o.replace('_', ' ')}`).join(', ')}\n`;
  }
  append(process.env.GITHUB_STEP_SUMMARY, summary);

  const outputs = {
    'exit-code': code,
    waiting: totals.waiting,
    blocked: totals.blocked,
    // Actions are blocked only by content Apple REJECTED.
    rejected: totals.blocked > 0 ? 'true' : 'false',
    failed: totals.failed + failedApps,
  };
  append(process.env.GITHUB_OUTPUT, Object.entries(outputs).map(([k, v]) => `${k}=${v}\n`).join(''));
  process.stdout.write(`exit-code ${code}, waiting ${totals.waiting}, blocked ${totals.blocked}, failed ${outputs.failed}\n`);
}

main();
