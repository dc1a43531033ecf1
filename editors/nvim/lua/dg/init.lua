-- dg-lsp for Neovim: starts `dg-lsp --stdio` for the enabled filetypes and shows its inline
-- completions as ghost text, through vim.lsp.inline_completion where Neovim has it (0.12) and through
-- the plugin's own extmarks where it does not (0.10, 0.11).
--
--   require('dg').setup({ filetypes = { 'python', 'rust' }, settings = { maxLines = 4 } })
local compat = require('dg.compat')
local ghost = require('dg.ghost')
local api = vim.api

local M = {}

M.name = 'dg-lsp'

---@class dg.Keymaps
---@field accept string|false   accept the shown suggestion; falls through when none is shown
---@field dismiss string|false  hide the shown suggestion; falls through when none is shown
---@field next string|false     next suggestion
---@field prev string|false     previous suggestion

---@class dg.Options
---@field cmd string[]                 command that starts the server
---@field filetypes string[]           filetypes to attach to; empty list: every filetype
---@field root_markers string[]        files that mark the project root
---@field settings table               sent as initializationOptions and settings.dg (see editors/README.md)
---@field ghost_text 'auto'|'native'|'extmark'  'auto': native where Neovim has it, else extmarks
---@field debounce_ms integer          extmark mode: wait after a keystroke before asking
---@field enabled boolean              completions on at start
---@field keymaps dg.Keymaps

---@type dg.Options
M.defaults = {
  cmd = { 'dg-lsp', '--stdio' },
  filetypes = {
    'python',
    'javascript',
    'javascriptreact',
    'typescript',
    'typescriptreact',
    'go',
    'rust',
    'java',
    'c',
    'cpp',
  },
  root_markers = { '.git', 'pyproject.toml', 'setup.py', 'package.json', 'go.mod', 'Cargo.toml', 'pom.xml' },
  settings = {},
  ghost_text = 'auto',
  debounce_ms = 75,
  enabled = true,
  keymaps = {
    accept = '<Tab>',
    dismiss = '<C-]>',
    next = '<M-]>',
    prev = '<M-[>',
  },
}

---@type dg.Options
M.options = vim.deepcopy(M.defaults)
M.enabled = true

local augroup

--- 'native' or 'extmark': how ghost text is shown with the current options on this Neovim.
function M.mode()
  local want = M.options.ghost_text
  if want == 'extmark' then
    return 'extmark'
  end
  if compat.native_inline_completion() then
    return 'native'
  end
  if want == 'native' then
    vim.notify_once('dg: this Neovim has no vim.lsp.inline_completion; using extmark ghost text', vim.log.levels.WARN)
  end
  return 'extmark'
end

-- The server settings as a JSON object even when empty ({} would be sent as []).
local function server_settings()
  local s = vim.deepcopy(M.options.settings or {})
  if vim.tbl_isempty(s) then
    return vim.empty_dict()
  end
  return s
end

local function get_clients(filter)
  filter = vim.tbl_extend('force', { name = M.name }, filter or {})
  return vim.lsp.get_clients(filter)
end

--- Whether a suggestion is shown in the current buffer.
function M.visible(bufnr)
  bufnr = (bufnr == nil or bufnr == 0) and api.nvim_get_current_buf() or bufnr
  if ghost.is_attached(bufnr) then
    return ghost.visible(bufnr)
  end
  local ns = api.nvim_get_namespaces()['nvim.lsp.inline_completion']
  return ns ~= nil and #api.nvim_buf_get_extmarks(bufnr, ns, 0, -1, { limit = 1 }) > 0
end

--- Accept the shown suggestion; false when none is shown.
function M.accept(bufnr)
  bufnr = (bufnr == nil or bufnr == 0) and api.nvim_get_current_buf() or bufnr
  if ghost.is_attached(bufnr) then
    return ghost.accept(bufnr)
  end
  local native = compat.native_inline_completion()
  return native ~= nil and native.get({ bufnr = bufnr }) or false
end

--- Hide the shown suggestion; false when none was shown.
function M.dismiss(bufnr)
  bufnr = (bufnr == nil or bufnr == 0) and api.nvim_get_current_buf() or bufnr
  if ghost.is_attached(bufnr) then
    return ghost.dismiss(bufnr)
  end
  if not M.visible(bufnr) then
    return false
  end
  -- Native mode: leave the shown item by toggling the feature for this buffer, which clears it.
  local native = compat.native_inline_completion()
  if native then
    native.enable(false, { bufnr = bufnr })
    native.enable(true, { bufnr = bufnr })
  end
  return true
end

--- Show the next (count > 0) or previous suggestion; false when none is shown.
function M.select(count, bufnr)
  bufnr = (bufnr == nil or bufnr == 0) and api.nvim_get_current_buf() or bufnr
  if ghost.is_attached(bufnr) then
    return ghost.select(count, bufnr)
  end
  if not M.visible(bufnr) then
    return false
  end
  compat.native_inline_completion().select({ bufnr = bufnr, count = count })
  return true
end

-- The mapping that `lhs` had before we mapped it in `bufnr`, to fall through to.
local function previous_mapping(bufnr, lhs)
  local m = vim.fn.maparg(lhs, 'i', false, true)
  if type(m) ~= 'table' or vim.tbl_isempty(m) or (m.desc and m.desc:match('^dg:')) then
    return nil
  end
  if m.buffer == 1 and api.nvim_get_current_buf() ~= bufnr then
    -- maparg reports the current buffer's own mapping first; it belongs to another buffer.
    return nil
  end
  return m
end

local function fallthrough(lhs, prev)
  if prev then
    if prev.callback then
      if prev.expr == 1 then
        local keys = prev.callback()
        if type(keys) ~= 'string' then
          return ''
        end
        return prev.replace_keycodes == 1 and compat.keycode(keys) or keys
      end
      prev.callback()
      return ''
    elseif prev.rhs and prev.rhs ~= '' then
      if prev.expr == 1 then
        local keys = api.nvim_eval(prev.rhs)
        return type(keys) == 'string' and compat.keycode(keys) or ''
      end
      api.nvim_feedkeys(compat.keycode(prev.rhs), prev.noremap == 1 and 'n' or 'm', false)
      return ''
    end
  end
  return compat.keycode(lhs)
end

local function map(bufnr, lhs, desc, action)
  if not lhs then
    return
  end
  local prev = previous_mapping(bufnr, lhs)
  vim.keymap.set('i', lhs, function()
    if M.enabled and action(bufnr) then
      return ''
    end
    return fallthrough(lhs, prev)
  end, { buffer = bufnr, expr = true, replace_keycodes = false, silent = true, desc = 'dg: ' .. desc })
end

local function set_keymaps(bufnr)
  local km = M.options.keymaps or {}
  map(bufnr, km.accept, 'accept inline completion', M.accept)
  map(bufnr, km.dismiss, 'dismiss inline completion', M.dismiss)
  map(bufnr, km.next, 'next inline completion', function(b)
    return M.select(1, b)
  end)
  map(bufnr, km.prev, 'previous inline completion', function(b)
    return M.select(-1, b)
  end)
end

local function on_attach(client, bufnr)
  if client.name ~= M.name then
    return
  end
  local mode = M.mode()
  if mode == 'native' then
    if M.enabled then
      compat.native_inline_completion().enable(true, { bufnr = bufnr })
    end
  else
    ghost.attach(bufnr, client.id, { debounce_ms = M.options.debounce_ms, enabled = M.enabled })
  end
  set_keymaps(bufnr)
  vim.b[bufnr].dg_mode = mode
end

local function wanted(bufnr)
  if vim.bo[bufnr].buftype ~= '' then
    return false
  end
  local fts = M.options.filetypes
  if fts == nil or #fts == 0 then
    return vim.bo[bufnr].filetype ~= ''
  end
  return vim.tbl_contains(fts, vim.bo[bufnr].filetype)
end

--- Start (or reuse) the dg-lsp client for `bufnr`. Returns the client id, or nil.
function M.attach(bufnr)
  bufnr = (bufnr == nil or bufnr == 0) and api.nvim_get_current_buf() or bufnr
  if not wanted(bufnr) then
    return nil
  end
  local cmd = M.options.cmd
  if vim.fn.executable(cmd[1]) ~= 1 then
    vim.notify_once(
      ('dg: %q is not executable; install dg-lsp (pip install dg-lsp) or set cmd in require("dg").setup()'):format(
        cmd[1]
      ),
      vim.log.levels.ERROR
    )
    return nil
  end
  local name = api.nvim_buf_get_name(bufnr)
  local root = vim.fs.root(bufnr, M.options.root_markers)
    or (name ~= '' and vim.fs.dirname(name))
    or vim.uv.cwd()
  return vim.lsp.start({
    name = M.name,
    cmd = cmd,
    root_dir = root,
    init_options = server_settings(),
    settings = { dg = server_settings() },
    on_attach = on_attach,
  }, { bufnr = bufnr })
end

--- Turn completions on or off everywhere (`enabled` nil: flip).
function M.toggle(enabled)
  if enabled == nil then
    enabled = not M.enabled
  end
  M.enabled = enabled
  local native = compat.native_inline_completion()
  for _, client in ipairs(get_clients()) do
    for bufnr in pairs(client.attached_buffers) do
      if ghost.is_attached(bufnr) then
        ghost.set_enabled(bufnr, enabled)
      elseif native then
        native.enable(enabled, { bufnr = bufnr })
      end
    end
  end
  vim.notify('dg: completions ' .. (enabled and 'on' or 'off'))
  return enabled
end

--- Merge `settings` into the server settings and send them (workspace/didChangeConfiguration).
function M.update_settings(settings)
  M.options.settings = vim.tbl_deep_extend('force', M.options.settings or {}, settings or {})
  for _, client in ipairs(get_clients()) do
    client.settings = { dg = server_settings() }
    compat.client_call(client, 'notify', 'workspace/didChangeConfiguration', { settings = client.settings })
  end
end

--- Ask the server for `dg.status`; `callback(err, status)`.
function M.status(callback, bufnr)
  bufnr = (bufnr == nil or bufnr == 0) and api.nvim_get_current_buf() or bufnr
  local client = get_clients({ bufnr = bufnr })[1] or get_clients()[1]
  if not client then
    callback('dg-lsp is not running', nil)
    return
  end
  compat.client_call(client, 'request', 'workspace/executeCommand', { command = 'dg.status', arguments = {} }, function(err, result)
    callback(err and (err.message or vim.inspect(err)) or nil, result)
  end, bufnr)
end

--- Stop every dg-lsp client and start it again for the buffers it served.
function M.restart()
  local buffers = {}
  local clients = get_clients()
  for _, client in ipairs(clients) do
    for bufnr in pairs(client.attached_buffers) do
      buffers[#buffers + 1] = bufnr
      ghost.detach(bufnr)
    end
    compat.client_call(client, 'stop')
  end
  vim.wait(5000, function()
    for _, client in ipairs(clients) do
      if not compat.client_call(client, 'is_stopped') then
        return false
      end
    end
    return true
  end, 20)
  for _, bufnr in ipairs(buffers) do
    if api.nvim_buf_is_valid(bufnr) then
      M.attach(bufnr)
    end
  end
end

local function create_commands()
  api.nvim_create_user_command('DgStatus', function()
    M.status(function(err, status)
      if err then
        vim.notify('dg: ' .. err, vim.log.levels.WARN)
      else
        vim.notify(vim.inspect(status), vim.log.levels.INFO, { title = 'dg.status' })
      end
    end)
  end, { desc = 'Show dg-lsp status (dg.status)' })
  api.nvim_create_user_command('DgToggle', function()
    M.toggle()
  end, { desc = 'Toggle dg-lsp inline completions' })
  api.nvim_create_user_command('DgRestart', function()
    M.restart()
  end, { desc = 'Restart dg-lsp' })
end

---@param opts? dg.Options
function M.setup(opts)
  if vim.fn.has('nvim-0.10') ~= 1 then
    vim.notify('dg: needs Neovim 0.10 or newer', vim.log.levels.ERROR)
    return
  end
  M.options = vim.tbl_deep_extend('force', vim.deepcopy(M.defaults), opts or {})
  if opts and opts.filetypes then
    M.options.filetypes = opts.filetypes -- a list replaces the default list, it does not merge
  end
  M.enabled = M.options.enabled ~= false
  api.nvim_set_hl(0, 'DgGhostText', { link = 'Comment', default = true })
  api.nvim_set_hl(0, 'DgGhostTextHint', { link = 'NonText', default = true })
  create_commands()

  augroup = api.nvim_create_augroup('dg', { clear = true })
  local fts = M.options.filetypes
  api.nvim_create_autocmd('FileType', {
    group = augroup,
    pattern = (fts and #fts > 0) and fts or '*',
    callback = function(ev)
      M.attach(ev.buf)
    end,
  })
  -- Buffers opened before setup() ran.
  for _, bufnr in ipairs(api.nvim_list_bufs()) do
    if api.nvim_buf_is_loaded(bufnr) and wanted(bufnr) then
      M.attach(bufnr)
    end
  end
end

return M
