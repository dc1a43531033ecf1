// Real-editor test of editors/vscode in code-server, driven through Chromium by playwright-core.
// Run by test_editor_vscode.py (node vscode_inline.mjs) with:
//   DG_URL             code-server URL of the workspace folder
//   DG_FILE            file name (in the workspace) to open
//   DG_LINE            1-based line; the test types DG_TYPE at its end
//   DG_TYPE            text to type there (triggers automatic inline completion)
//   DG_TIMEOUT_MS      how long to wait for ghost text
//   DG_CHROMIUM        Chromium executable
//   DG_PLAYWRIGHT      path of the playwright-core package
//   DG_OUT             folder for the result JSON and screenshots
// The file's last line is a comment without a newline, which nudges extend (see below).
// Steps: open the file, type at the end of the line, wait for `.ghost-text-decoration` (dg-lsp's
// completion), screenshot, press Tab, save; click the dg status bar item and read the dg.status JSON
// it opens. test_editor_vscode.py checks the saved file against what the ghost text showed.
import { createRequire } from 'node:module';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

const env = process.env;
const require = createRequire(import.meta.url);
const { chromium } = require(env.DG_PLAYWRIGHT);
const timeout = Number(env.DG_TIMEOUT_MS || 120000);
const result = { steps: [], ok: false };
const t0 = Date.now();
const step = (name, extra = {}) => {
	result.steps.push({ name, t_ms: Date.now() - t0, ...extra });
	console.log(`[vscode-test] ${Date.now() - t0} ms ${name} ${JSON.stringify(extra)}`);
};
const save = () => writeFileSync(join(env.DG_OUT, 'result.json'), JSON.stringify(result, null, 2));
const mod = 'Control';
// Monaco positions its line elements absolutely; read them in the order they are shown.
const linesInOrder = (locator) =>
	locator.evaluateAll((els) =>
		els
			.map((el) => ({ top: parseFloat(el.style.top || '0'), text: el.textContent.replace(/\u00a0/g, ' ') }))
			.sort((a, b) => a.top - b.top)
			.map((l) => l.text),
	);

const browser = await chromium.launch({
	executablePath: env.DG_CHROMIUM,
	headless: true,
	args: [
		'--headless',
		'--no-sandbox',
		'--disable-gpu',
		'--disable-background-networking',
		'--disable-component-update',
		'--disable-sync',
		'--no-first-run',
		'--disable-quic',
	],
});
let page;
try {
	const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
	page = await context.newPage();
	page.on('console', (msg) => {
		if (msg.type() === 'error') {
			(result.console_errors ??= []).push(msg.text().slice(0, 300));
		}
	});
	await page.goto(env.DG_URL, { timeout: 60000 });
	await page.locator('.monaco-workbench').waitFor({ timeout: 60000 });
	step('workbench');

	// The dg status bar item shows up once the extension is active.
	await page.locator('#dg-lsp\\.dg-lsp\\.dg-lsp\\.status, [id$="dg-lsp.status"]').first().waitFor({ timeout: 60000 });
	const item = page.locator('[id$="dg-lsp.status"]').first();
	const itemText = async () => (await item.innerText()).replace(/\s+/g, ' ').trim();
	// The language client is up once the item leaves "starting".
	for (const start = Date.now(); /starting/.test(await itemText()); ) {
		if (Date.now() - start > 60000) {
			throw new Error(`dg-lsp still starting after 60 s: ${await itemText()}`);
		}
		await page.waitForTimeout(250);
	}
	step('status item', { text: await itemText() });

	// Open the file with Quick Open.
	await page.locator('.monaco-workbench').click({ position: { x: 700, y: 400 } });
	await page.keyboard.press(`${mod}+P`);
	const quickInput = page.locator('.quick-input-widget input');
	await quickInput.waitFor({ timeout: 30000 });
	await quickInput.fill(env.DG_FILE);
	await page.locator('.quick-input-list .monaco-list-row').first().waitFor({ timeout: 30000 });
	await page.keyboard.press('Enter');
	const editor = page.locator('.editor-instance .monaco-editor').first();
	await editor.waitFor({ timeout: 30000 });
	await page.locator('.tab.active', { hasText: env.DG_FILE }).waitFor({ timeout: 30000 });
	step('file open');

	// Go to the end of the line, then type.
	await editor.locator('.view-lines').click();
	const gotoLineEnd = async () => {
		await page.keyboard.press(`${mod}+Home`);
		for (let i = 1; i < Number(env.DG_LINE); i++) {
			await page.keyboard.press('ArrowDown');
		}
		await page.keyboard.press('End');
	};
	await gotoLineEnd();
	await page.keyboard.type(env.DG_TYPE, { delay: 30 });
	step('typed', { text: env.DG_TYPE });

	// Wait for ghost text; while the engine loads the server answers no items, so retype the last
	// character now and then, as a user's next keystroke would ask again.
	const ghost = editor.locator('.ghost-text-decoration, .ghost-text-decoration-preview');
	const deadline = Date.now() + timeout;
	let nudges = 0;
	let ghostText = '';
	for (;;) {
		try {
			await ghost.first().waitFor({ timeout: 8000 });
			ghostText = (await ghost.allTextContents()).join('');
			if (ghostText.trim() !== '') {
				break;
			}
		} catch {
			// not yet
		}
		if (Date.now() > deadline) {
			throw new Error(`no ghost text after ${timeout} ms (${nudges} nudges)`);
		}
		// The server caches answers by context, an empty one too (the engine may have been loading):
		// add a character to the file's last line (a comment) for a new context, come back, and retype
		// the last character, as a user's next keystroke would ask again.
		nudges += 1;
		await page.keyboard.press(`${mod}+End`);
		await page.keyboard.type('.');
		await gotoLineEnd();
		await page.keyboard.press('Backspace');
		await page.keyboard.type(env.DG_TYPE.slice(-1));
	}
	// Lines of a multi-line suggestion below the cursor line are drawn in a view zone.
	const moreLines = await linesInOrder(editor.locator('.suggest-preview-text .view-line'));
	result.ghost = { first: ghostText.replace(/\u00a0/g, ' '), more: moreLines, nudges };
	step('ghost', result.ghost);
	await page.screenshot({ path: join(env.DG_OUT, 'ghost.png') });

	await page.keyboard.press('Tab');
	await ghost.first().waitFor({ state: 'detached', timeout: 10000 }).catch(() => {});
	await page.keyboard.press(`${mod}+S`);
	await page.locator('.tab.active.dirty').waitFor({ state: 'detached', timeout: 10000 });
	step('accepted and saved');
	await page.screenshot({ path: join(env.DG_OUT, 'accepted.png') });

	// The status bar item: click it, dg.status opens as JSON beside the file.
	result.status_text = await itemText();
	await item.locator('a, .statusbar-item-label').first().click();
	const statusEditor = page.locator('.editor-instance .monaco-editor', { hasText: '"model"' });
	await statusEditor.first().waitFor({ timeout: 30000 });
	result.status_json_text = (await linesInOrder(statusEditor.first().locator('.view-line'))).join('\n');
	step('status shown', { status_bar: result.status_text });
	await page.screenshot({ path: join(env.DG_OUT, 'status.png') });

	// The toggle command, from the command palette, turns completions off (and the item says so).
	await page.keyboard.press('F1');
	await quickInput.waitFor({ timeout: 10000 });
	await page.keyboard.type('dg-lsp: Toggle Inline Completions');
	await page.locator('.quick-input-list .monaco-list-row', { hasText: 'Toggle Inline Completions' }).first().waitFor({ timeout: 10000 });
	await page.keyboard.press('Enter');
	for (const start = Date.now(); !/ off/.test(await itemText()); ) {
		if (Date.now() - start > 10000) {
			throw new Error(`status item after toggle: ${await itemText()}`);
		}
		await page.waitForTimeout(100);
	}
	result.status_after_toggle = await itemText();
	step('toggled off', { status_bar: result.status_after_toggle });
	result.ok = true;
} catch (err) {
	result.error = String(err && err.stack ? err.stack : err);
	if (page) {
		await page.screenshot({ path: join(env.DG_OUT, 'failure.png') }).catch(() => {});
	}
} finally {
	save();
	await browser.close();
}
process.exit(result.ok ? 0 : 1);
