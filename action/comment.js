#!/usr/bin/env node
// Creates or updates THE plan comment of a pull request: the one comment whose body starts
// with the marker `<!-- retainctl:plan -->`, found across every page of the comments.
// The body is the markdown plan with the commit and a link to the run added.
// No npm dependencies (node >= 18: global fetch). The token is never printed.
//
// Environment: GITHUB_TOKEN, GITHUB_REPOSITORY (owner/name), PR_NUMBER, PLAN_FILE,
// and optionally GITHUB_API_URL, GITHUB_SERVER_URL, GITHUB_RUN_ID, COMMIT_SHA; for the
// previews: PREVIEWS_ARTIFACT_URL (the gallery artifact, linked at the marker
// <!-- retainctl:previews-gallery -->), PREVIEWS_URL and PREVIEWS_PUBLISHED (when the
// pictures could not be pushed, their <img> tags become a line saying so).
'use strict';

const fs = require('fs');

const MARKER = '<!-- retainctl:plan -->';

function need(name) {
  const value = process.env[name];
  if (!value) {
    fail(`${name} is not set`);
  }
  return value;
}

function fail(message) {
  // A GitHub annotation, and a plain line for logs read elsewhere.
  process.stdout.write(`::error title=retainctl plan comment::${message}\n`);
  process.exit(1);
}

function explain(status, method, path, text) {
  let message = '';
  try {
    message = JSON.parse(text).message || '';
  } catch (_) {
    message = text.slice(0, 200);
  }
  if (status === 403 || status === 404) {
    return `GitHub answered ${status} (${message || 'forbidden'}) to ${method} ${path}: ` +
      'the token cannot write pull-request comments. Give the job `permissions: pull-requests: write` ' +
      '(pull requests from forks get a read-only token: plan them only on branches of this repository).';
  }
  if (status === 401) {
    return `GitHub answered 401 (${message || 'bad credentials'}) to ${method} ${path}: the github-token input is not a valid token.`;
  }
  return `GitHub answered ${status} (${message}) to ${method} ${path}`;
}

async function call(api, token, method, path, body) {
  const url = path.startsWith('http') ? path : `${api}${path}`;
  let response;
  try {
    response = await fetch(url, {
      method,
      headers: {
        authorization: `Bearer ${token}`,
        accept: 'application/vnd.github+json',
        'x-github-api-version': '2022-11-28',
        'content-type': 'application/json',
        'user-agent': 'retainctl-action',
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (e) {
    fail(`cannot reach GitHub's API at ${api}: ${e.message}`);
  }
  const text = await response.text();
  const shown = new URL(url).pathname;
  if (!response.ok) {
    fail(explain(response.status, method, shown, text));
  }
  return { json: text ? JSON.parse(text) : null, link: response.headers.get('link') || '' };
}

function nextPage(link) {
  for (const part of link.split(',')) {
    const m = part.match(/<([^>]+)>\s*;\s*rel="next"/);
    if (m) {
      return m[1];
    }
  }
  return null;
}

function withFooter(plan) {
  const server = process.env.GITHUB_SERVER_URL || 'https://github.com';
  const repo = process.env.GITHUB_REPOSITORY;
  const run = process.env.GITHUB_RUN_ID;
  const sha = process.env.COMMIT_SHA || process.env.GITHUB_SHA || '';
  let body = plan.startsWith(MARKER) ? plan : `${MARKER}\n${plan}`;
  const parts = [];
  if (sha) {
    parts.push(`commit ${sha.slice(0, 12)}`);
  }
  if (run) {
    parts.push(`[run ${run}](${server}/${repo}/actions/runs/${run})`);
  }
  if (parts.length) {
    body = `${body.replace(/\s*$/, '')}\n\n<sub>Planned at ${parts.join(' · ')}</sub>\n`;
  }
  return body;
}

const GALLERY_MARKER = '<!-- retainctl:previews-gallery -->';

function withPreviews(plan) {
  let body = plan;
  const artifact = process.env.PREVIEWS_ARTIFACT_URL;
  if (artifact) {
    body = body.split(GALLERY_MARKER).join(
      `[Download the gallery](${artifact}) (the \`retainctl-previews\` artifact of this run: open index.html).`);
  }
  const url = process.env.PREVIEWS_URL;
  if (url && process.env.PREVIEWS_PUBLISHED === 'false') {
    const prefix = url.split('{path}')[0];
    body = body
      .split('\n')
      .map((line) => (line.startsWith(`<img src="${prefix}`)
        ? '_Picture not published: this job cannot push the `retainctl-previews` branch. See the gallery artifact._'
        : line))
      .join('\n');
  }
  return body;
}

async function main() {
  const token = need('GITHUB_TOKEN');
  const repo = need('GITHUB_REPOSITORY');
  const number = need('PR_NUMBER');
  const planFile = need('PLAN_FILE');
  const api = (process.env.GITHUB_API_URL || 'https://api.github.com').replace(/\/$/, '');
  let plan;
  try {
    plan = fs.readFileSync(planFile, 'utf8');
  } catch (e) {
    fail(`cannot read the plan ${planFile}: ${e.message}`);
  }
  const body = withFooter(withPreviews(plan));

  let page = `/repos/${repo}/issues/${number}/comments?per_page=100`;
  let mine = null;
  while (page && !mine) {
    const { json, link } = await call(api, token, 'GET', page);
    mine = (json || []).find((c) => typeof c.body === 'string' && c.body.startsWith(MARKER)) || null;
    page = nextPage(link);
  }
  if (mine) {
    await call(api, token, 'PATCH', `/repos/${repo}/issues/comments/${mine.id}`, { body });
    process.stdout.write(`updated the plan comment ${mine.id}\n`);
  } else {
    const { json } = await call(api, token, 'POST', `/repos/${repo}/issues/${number}/comments`, { body });
    process.stdout.write(`created the plan comment ${json && json.id}\n`);
  }
}

main().catch((e) => fail(`unexpected: ${e.message}`));
