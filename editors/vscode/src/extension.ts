// dg-lsp for VS Code: launches `dg-lsp --stdio` and shows its inline completions as ghost text.
//
// vscode-languageclient 11 registers the LSP 3.18 `textDocument/inlineCompletion` feature itself when
// the server advertises `inlineCompletionProvider`; this file adds the settings plumbing, a status bar
// item, the toggle and restart commands, and a middleware that can switch completions off.
import * as vscode from 'vscode';
import {
	ExecuteCommandRequest,
	LanguageClient,
	LanguageClientOptions,
	ServerOptions,
	State,
	TransportKind,
} from 'vscode-languageclient/node';

const SECTION = 'dg';
// Keys forwarded to the server (initializationOptions and workspace/didChangeConfiguration).
const SERVER_KEYS = [
	'modelDir', 'engineSocket', 'engineUrl', 'engineTokenFile', 'enabledLanguages', 'maxLines', 'debounceMs',
	'minConfidence',
] as const;
// Keys whose change needs a new server process (command line or document selector).
const RESTART_KEYS = ['serverPath', 'serverArgs', 'enabledLanguages'] as const;

// A key the user did not set goes as null: the server then applies its own default (infill/settings.py),
// which may depend on the model, and a key the user clears goes back to it.
export type ServerSettings = Record<(typeof SERVER_KEYS)[number], unknown>;

let client: LanguageClient | undefined;
let statusItem: vscode.StatusBarItem;
let output: vscode.LogOutputChannel;
let lastLatencyMs: number | undefined;
let lastStatus: Record<string, unknown> | undefined;
let statusRefreshTimer: NodeJS.Timeout | undefined;
let lastStatusRefresh = 0;

function config(): vscode.WorkspaceConfiguration {
	return vscode.workspace.getConfiguration(SECTION);
}

export function serverSettings(): ServerSettings {
	const c = config();
	const settings = {} as ServerSettings;
	for (const key of SERVER_KEYS) {
		const seen = c.inspect(key);
		const set = seen?.workspaceFolderValue ?? seen?.workspaceValue ?? seen?.globalValue;
		settings[key] = set === undefined || (typeof set === 'string' && set.trim() === '') ? null : set;
	}
	return settings;
}

function completionsEnabled(): boolean {
	return config().get<boolean>('enable', true);
}

function documentSelector(): LanguageClientOptions['documentSelector'] {
	const languages = config().get<string[]>('enabledLanguages', []);
	if (languages.length > 0) {
		return languages.flatMap((language) => [
			{ scheme: 'file', language },
			{ scheme: 'untitled', language },
		]);
	}
	return [{ scheme: 'file' }, { scheme: 'untitled' }];
}

function createClient(): LanguageClient {
	const command = config().get<string>('serverPath', 'dg-lsp') || 'dg-lsp';
	const args = config().get<string[]>('serverArgs', []);
	const serverOptions: ServerOptions = {
		command,
		args: [...args, '--stdio'],
		transport: TransportKind.stdio,
		options: { env: process.env },
	};
	const clientOptions: LanguageClientOptions = {
		documentSelector: documentSelector(),
		outputChannel: output,
		initializationOptions: () => serverSettings(),
		middleware: {
			provideInlineCompletionItems: async (document, position, context, token, next) => {
				if (!completionsEnabled()) {
					return null;
				}
				const started = Date.now();
				const result = await next(document, position, context, token);
				if (!token.isCancellationRequested) {
					lastLatencyMs = Date.now() - started;
					scheduleStatusRefresh();
				}
				return result;
			},
		},
	};
	const c = new LanguageClient('dg-lsp', 'dg-lsp', serverOptions, clientOptions);
	c.onDidChangeState((e) => {
		if (e.newState === State.Running) {
			scheduleStatusRefresh(0);
		}
		renderStatus();
	});
	return c;
}

async function startClient(): Promise<void> {
	client = createClient();
	renderStatus();
	try {
		await client.start();
	} catch (err) {
		output.error(`dg-lsp failed to start: ${String(err)}`);
		void vscode.window.showErrorMessage(
			`dg-lsp could not be started (${String(err)}). Check the "dg.serverPath" setting ` +
				`(now "${config().get<string>('serverPath', 'dg-lsp')}").`,
		);
	}
	renderStatus();
}

async function stopClient(): Promise<void> {
	const c = client;
	client = undefined;
	lastStatus = undefined;
	if (c) {
		try {
			await c.stop(5000);
		} catch (err) {
			output.warn(`dg-lsp did not stop cleanly: ${String(err)}`);
		}
	}
	renderStatus();
}

async function restartClient(): Promise<void> {
	await stopClient();
	await startClient();
}

export async function fetchStatus(): Promise<Record<string, unknown>> {
	if (!client || client.state !== State.Running) {
		throw new Error('dg-lsp is not running');
	}
	const result = await client.sendRequest(ExecuteCommandRequest.type, { command: 'dg.status', arguments: [] });
	if (!result || typeof result !== 'object') {
		throw new Error(`dg.status returned ${JSON.stringify(result)}`);
	}
	return result as Record<string, unknown>;
}

function scheduleStatusRefresh(delayMs = 1000): void {
	// At most one dg.status round trip per second, driven by completions and state changes.
	if (statusRefreshTimer) {
		return;
	}
	const wait = Math.max(delayMs, 1000 - (Date.now() - lastStatusRefresh));
	statusRefreshTimer = setTimeout(async () => {
		statusRefreshTimer = undefined;
		lastStatusRefresh = Date.now();
		try {
			lastStatus = await fetchStatus();
		} catch (err) {
			output.debug(`dg.status failed: ${String(err)}`);
		}
		renderStatus();
	}, wait);
}

function pick(obj: unknown, ...path: string[]): unknown {
	let cur: unknown = obj;
	for (const key of path) {
		if (!cur || typeof cur !== 'object') {
			return undefined;
		}
		cur = (cur as Record<string, unknown>)[key];
	}
	return cur;
}

function describeModel(status: Record<string, unknown> | undefined): string | undefined {
	const model = status?.model;
	if (typeof model === 'string') {
		return model;
	}
	const name = pick(model, 'name') ?? pick(model, 'id');
	return typeof name === 'string' ? name : undefined;
}

function describeEngine(status: Record<string, unknown> | undefined): string | undefined {
	for (const path of [['state'], ['engine', 'state'], ['engine_state'], ['engineState'], ['engine']]) {
		const v = pick(status, ...path);
		if (typeof v === 'string') {
			return v;
		}
	}
	return undefined;
}

function renderStatus(): void {
	if (!statusItem) {
		return;
	}
	const model = describeModel(lastStatus);
	const engine = describeEngine(lastStatus);
	const latency = lastLatencyMs !== undefined ? `${lastLatencyMs} ms` : undefined;
	let icon: string;
	let state: string;
	if (!client || client.state === State.Stopped) {
		icon = '$(debug-disconnect)';
		state = 'stopped';
	} else if (client.state === State.Starting) {
		icon = '$(loading~spin)';
		state = 'starting';
	} else if (!completionsEnabled()) {
		icon = '$(circle-slash)';
		state = 'off';
	} else {
		icon = '$(sparkle)';
		state = engine ?? 'running';
	}
	const parts = [`${icon} dg`, state];
	if (model) {
		parts.push(model);
	}
	if (latency && state !== 'off') {
		parts.push(latency);
	}
	statusItem.text = parts.join(' · ');
	const tooltip = new vscode.MarkdownString();
	tooltip.appendMarkdown(`**dg-lsp** — ${state}\n\n`);
	tooltip.appendMarkdown(`- completions: ${completionsEnabled() ? 'on' : 'off'}\n`);
	if (engine) {
		tooltip.appendMarkdown(`- engine: ${engine}\n`);
	}
	if (model) {
		tooltip.appendMarkdown(`- model: ${model}\n`);
	}
	if (latency) {
		tooltip.appendMarkdown(`- last completion: ${latency}\n`);
	}
	tooltip.appendMarkdown('\nClick for `dg.status`.');
	statusItem.tooltip = tooltip;
	statusItem.show();
}

async function showStatus(): Promise<void> {
	let status: Record<string, unknown>;
	try {
		status = await fetchStatus();
	} catch (err) {
		void vscode.window.showWarningMessage(`dg-lsp status unavailable: ${String(err)}`);
		return;
	}
	lastStatus = status;
	renderStatus();
	const report = { ...status, client: { completions: completionsEnabled(), lastLatencyMs: lastLatencyMs ?? null } };
	statusDocument.update(JSON.stringify(report, null, 2) + '\n');
	const doc = await vscode.workspace.openTextDocument(StatusDocument.uri);
	await vscode.window.showTextDocument(doc, { preview: true, viewColumn: vscode.ViewColumn.Beside });
}

// dg.status as a read-only JSON document (dg-status:/dg.status.json), refreshed on every click and
// never left dirty, unlike an untitled document.
class StatusDocument implements vscode.TextDocumentContentProvider {
	static readonly scheme = 'dg-status';
	static readonly uri = vscode.Uri.parse(`${StatusDocument.scheme}:/dg.status.json`);
	private readonly changed = new vscode.EventEmitter<vscode.Uri>();
	readonly onDidChange = this.changed.event;
	private text = '{}\n';

	update(text: string): void {
		this.text = text;
		this.changed.fire(StatusDocument.uri);
	}

	provideTextDocumentContent(): string {
		return this.text;
	}
}
const statusDocument = new StatusDocument();

async function toggleCompletions(): Promise<void> {
	const target = vscode.workspace.workspaceFolders?.length
		? vscode.ConfigurationTarget.Workspace
		: vscode.ConfigurationTarget.Global;
	await config().update('enable', !completionsEnabled(), target);
	// onDidChangeConfiguration re-renders; say it for users who do not watch the status bar.
	void vscode.window.setStatusBarMessage(`dg-lsp completions ${completionsEnabled() ? 'on' : 'off'}`, 3000);
}

export async function activate(context: vscode.ExtensionContext): Promise<{ fetchStatus: typeof fetchStatus }> {
	output = vscode.window.createOutputChannel('dg-lsp', { log: true });
	statusItem = vscode.window.createStatusBarItem('dg-lsp.status', vscode.StatusBarAlignment.Right, 100);
	statusItem.name = 'dg-lsp';
	statusItem.command = 'dg.showStatus';
	context.subscriptions.push(output, statusItem);

	context.subscriptions.push(
		vscode.workspace.registerTextDocumentContentProvider(StatusDocument.scheme, statusDocument),
		vscode.commands.registerCommand('dg.showStatus', showStatus),
		vscode.commands.registerCommand('dg.toggleCompletions', toggleCompletions),
		vscode.commands.registerCommand('dg.restartServer', restartClient),
		vscode.workspace.onDidChangeConfiguration(async (e) => {
			if (!e.affectsConfiguration(SECTION)) {
				return;
			}
			if (RESTART_KEYS.some((k) => e.affectsConfiguration(`${SECTION}.${k}`))) {
				await restartClient();
				return;
			}
			if (client && client.state === State.Running && SERVER_KEYS.some((k) => e.affectsConfiguration(`${SECTION}.${k}`))) {
				await client.sendNotification('workspace/didChangeConfiguration', { settings: { [SECTION]: serverSettings() } });
			}
			renderStatus();
		}),
		{ dispose: () => void stopClient() },
	);
	await startClient();
	return { fetchStatus };
}

export async function deactivate(): Promise<void> {
	if (statusRefreshTimer) {
		clearTimeout(statusRefreshTimer);
	}
	await stopClient();
}
