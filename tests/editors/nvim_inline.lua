-- Real-editor test of editors/nvim against a real dg-lsp, run by test_editor_nvim.py as
--   nvim --headless --clean -S tests/editors/nvim_inline.lua
-- (-S, not -l: the script returns and Nvim's main loop runs the typed keys, as with a user; timers
-- drive the steps and the script ends Nvim itself with os.exit.)
-- Environment:
--   DG_TEST_PLUGIN_DIR  editors/nvim
--   DG_TEST_CMD         JSON list: the server command (`dg-lsp --stdio`)
--   DG_TEST_MODE        'native' (vim.lsp.inline_completion) or 'extmark' (the plugin's own ghost text)
--   DG_TEST_FILE        file to open; DG_TEST_LINE: 1-based line whose end the cursor goes to
--   DG_TEST_SETTINGS    JSON object: server settings (initializationOptions / settings.dg)
--   DG_TEST_TIMEOUT_MS  how long to wait for ghost text
--   DG_TEST_RESULT      where to write the JSON result
-- Steps: open the file, enter insert mode at the end of the line, wait for the ghost-text extmark
-- from dg-lsp, dismiss it with <C-]>, type to get it back, accept it with <Tab>, check that the buffer
-- holds exactly the text the ghost showed, then check that <Tab> falls through (to the user's own
-- <Tab> mapping in extmark mode, to a literal tab in native mode) when no suggestion is shown.
local env = vim.env
local result = { steps = {}, mode = env.DG_TEST_MODE, nvim = tostring(vim.version()) }
local api = vim.api

local function finish(ok, msg)
  result.ok = ok
  result.message = msg
  result.lines = api.nvim_buf_get_lines(0, 0, -1, false)
  local clients = vim.lsp.get_clients({ name = 'dg-lsp' })
  result.clients = #clients
  local f = assert(io.open(env.DG_TEST_RESULT, 'w'))
  f:write(vim.json.encode(result))
  f:close()
  for _, c in ipairs(clients) do
    if vim.fn.has('nvim-0.11') == 1 then
      c:stop(true)
    else
      c.stop(true)
    end
  end
  vim.wait(2000, function()
    return #vim.lsp.get_clients({ name = 'dg-lsp' }) == 0
  end, 20)
  os.exit(ok and 0 or 1)
end

local function step(name, extra)
  local s = { name = name, t_ms = math.floor((vim.uv.hrtime() - result.t0) / 1e6) }
  for k, v in pairs(extra or {}) do
    s[k] = v
  end
  table.insert(result.steps, s)
end

local ok_run, err_run = pcall(function()
  result.t0 = vim.uv.hrtime()
  vim.o.swapfile = false
  vim.opt.rtp:prepend(env.DG_TEST_PLUGIN_DIR)
  local mode = env.DG_TEST_MODE
  local timeout = tonumber(env.DG_TEST_TIMEOUT_MS) or 120000
  local cmd = vim.json.decode(env.DG_TEST_CMD)
  local settings = vim.json.decode(env.DG_TEST_SETTINGS or '{}')

  if mode == 'extmark' then
    -- A mapping the user relies on: with no suggestion shown, <Tab> must reach it.
    vim.keymap.set('i', '<Tab>', 'USERTAB', { desc = 'user tab' })
  end

  local dg = require('dg')
  dg.setup({ cmd = cmd, ghost_text = mode, settings = settings, filetypes = { 'python' } })

  vim.cmd.edit(vim.fn.fnameescape(env.DG_TEST_FILE))
  local bufnr = api.nvim_get_current_buf()
  if vim.bo.filetype ~= 'python' then
    vim.bo.filetype = 'python' -- -l skips filetype detection; this fires FileType
  end
  -- Deterministic <Tab>: a literal tab, no indent magic.
  vim.bo.expandtab = false
  vim.bo.softtabstop = 0
  vim.bo.autoindent = false
  vim.bo.indentexpr = ''
  vim.bo.smartindent = false
  vim.bo.cindent = false

  local attached = vim.wait(30000, function()
    return #vim.lsp.get_clients({ bufnr = bufnr, name = 'dg-lsp' }) > 0
  end, 20)
  if not attached then
    return finish(false, 'dg-lsp did not attach to the buffer')
  end
  local client = vim.lsp.get_clients({ bufnr = bufnr, name = 'dg-lsp' })[1]
  step('attached', { inlineCompletionProvider = client.server_capabilities.inlineCompletionProvider ~= nil })
  if not client.server_capabilities.inlineCompletionProvider then
    return finish(false, 'dg-lsp does not advertise inlineCompletionProvider')
  end
  local want_mode = mode
  if vim.b[bufnr].dg_mode ~= want_mode then
    return finish(false, ('plugin chose %s ghost text, test asked for %s'):format(vim.b[bufnr].dg_mode, want_mode))
  end

  local ns_name = mode == 'native' and 'nvim.lsp.inline_completion' or 'dg.ghost'
  local function ghost()
    local ns = api.nvim_get_namespaces()[ns_name]
    if not ns then
      return nil
    end
    local marks = api.nvim_buf_get_extmarks(bufnr, ns, 0, -1, { details = true })
    if #marks == 0 then
      return nil
    end
    local m = marks[1]
    local d = m[4]
    local first = {}
    for _, chunk in ipairs(d.virt_text or {}) do
      if chunk[2] ~= 'ComplHintMore' and chunk[2] ~= 'DgGhostTextHint' then
        first[#first + 1] = chunk[1]
      end
    end
    local lines = { table.concat(first) }
    for _, vl in ipairs(d.virt_lines or {}) do
      local parts = {}
      for _, chunk in ipairs(vl) do
        if chunk[2] ~= 'ComplHintMore' and chunk[2] ~= 'DgGhostTextHint' then
          parts[#parts + 1] = chunk[1]
        end
      end
      lines[#lines + 1] = table.concat(parts)
    end
    return { row = m[2], col = m[3], lines = lines, pos = d.virt_text_pos }
  end

  local line_nr = tonumber(env.DG_TEST_LINE)
  local NUDGE_LINE = env.DG_TEST_NUDGE_LINE or '# nudge'
  local original = api.nvim_buf_get_lines(bufnr, 0, -1, false)
  api.nvim_win_set_cursor(0, { line_nr, 0 })

  local deadline = vim.uv.now() + timeout
  local phase = 'wait1'
  local seen, nudges = nil, 0
  local last_nudge = vim.uv.now()

  -- Whether an inline completion request of dg-lsp is in flight (a nudge would supersede it).
  local function pending()
    for _, c in ipairs(vim.lsp.get_clients({ name = 'dg-lsp' })) do
      for _, r in pairs(c.requests or {}) do
        if r.type == 'pending' and r.method == 'textDocument/inlineCompletion' then
          return true
        end
      end
    end
    return false
  end

  local function feed(keys)
    api.nvim_feedkeys(api.nvim_replace_termcodes(keys, true, false, true), 'mt', false)
  end

  local tick
  tick = function()
    local okp, errp = pcall(function()
      if vim.uv.now() > deadline then
        local c = vim.lsp.get_clients({ name = 'dg-lsp' })[1]
        if c then
          local okc, res = pcall(function()
            if vim.fn.has('nvim-0.11') == 1 then
              return c:request_sync('workspace/executeCommand', { command = 'dg.status', arguments = {} }, 5000, bufnr)
            end
            return c.request_sync('workspace/executeCommand', { command = 'dg.status', arguments = {} }, 5000, bufnr)
          end)
          result.status = okc and res and res.result or nil
        end
        return finish(false, ('timed out in phase %s after %d nudges'):format(phase, nudges))
      end
      local g = ghost()
      if phase == 'wait1' or phase == 'wait2' then
        local text = g and table.concat(g.lines, '\n') or ''
        if g and text:match('%S') then
          step('ghost ' .. phase, { row = g.row, col = g.col, lines = g.lines, pos = g.pos })
          seen = g
          if phase == 'wait1' then
            phase = 'dismissed'
            feed('<C-]>')
          else
            phase = 'accepted'
            result.before_accept = api.nvim_buf_get_lines(bufnr, 0, -1, false)
            feed('<Tab>')
          end
        elseif pending() then
          last_nudge = vim.uv.now()
        elseif vim.uv.now() - last_nudge > 2000 then
          -- Answered with no items: the engine may still be loading (the server answers no items until
          -- it is ready). Type a character and delete it, which asks again, as a user's next
          -- keystroke would; never while a request is in flight, which the nudge would supersede.
          -- The server caches answers by context (an empty one too), so each nudge also changes the
          -- last line of the file (a comment), which gives the model a new context.
          nudges = nudges + 1
          last_nudge = vim.uv.now()
          local n = api.nvim_buf_line_count(bufnr)
          api.nvim_buf_set_lines(bufnr, n - 1, n, true, { NUDGE_LINE .. ' ' .. nudges })
          feed('x<BS>')
        end
      elseif phase == 'dismissed' then
        if g then
          return finish(false, '<C-]> did not dismiss the ghost text')
        end
        local now = api.nvim_buf_get_lines(bufnr, 0, -1, false)
        if not vim.deep_equal(vim.list_slice(now, 1, #now - 1), vim.list_slice(original, 1, #original - 1)) then
          return finish(false, 'dismissing changed the buffer')
        end
        step('dismissed')
        phase = 'wait2'
        last_nudge = vim.uv.now()
        feed('x<BS>')
      elseif phase == 'accepted' then
        -- The accepted text must be exactly what the ghost showed, at the cursor.
        local before = result.before_accept
        local row, col = seen.row, seen.col
        local cur = before[row + 1]
        local expected = {}
        for i = 1, row do
          expected[i] = before[i]
        end
        local head, tail = cur:sub(1, col), cur:sub(col + 1)
        if seen.pos == 'overlay' then
          tail = tail:sub(#seen.lines[1] + 1)
        end
        local ins = vim.deepcopy(seen.lines)
        ins[1] = head .. ins[1]
        ins[#ins] = ins[#ins] .. tail
        vim.list_extend(expected, ins)
        for i = row + 2, #before do
          expected[#expected + 1] = before[i]
        end
        local now = api.nvim_buf_get_lines(bufnr, 0, -1, false)
        if vim.deep_equal(now, before) then
          return -- not applied yet (accept is scheduled); wait for the next tick
        end
        result.expected = expected
        if not vim.deep_equal(now, expected) then
          return finish(false, 'buffer after <Tab> is not the text the ghost showed')
        end
        local cursor = api.nvim_win_get_cursor(0)
        step('accepted', { cursor = cursor })
        local want_row = row + #seen.lines
        if cursor[1] ~= want_row then
          return finish(false, ('cursor on line %d after accept, expected %d'):format(cursor[1], want_row))
        end
        -- Fall-through: a new line, <Tab> at once (no suggestion can be shown yet).
        phase = 'fallthrough'
        result.lines_before_fallthrough = #now
        feed('<Esc>o<Tab>')
      elseif phase == 'fallthrough' then
        local now = api.nvim_buf_get_lines(bufnr, 0, -1, false)
        if #now == result.lines_before_fallthrough then
          return
        end
        local row = api.nvim_win_get_cursor(0)[1]
        local line = now[row]
        local want = mode == 'extmark' and 'USERTAB' or '\t'
        step('fallthrough', { line = line })
        if line ~= want then
          return finish(false, ('<Tab> with no suggestion inserted %q, expected %q'):format(line, want))
        end
        phase = 'done'
        return finish(true, 'ok')
      end
      vim.defer_fn(tick, 50)
    end)
    if not okp then
      finish(false, 'error: ' .. tostring(errp))
    end
  end

  vim.defer_fn(tick, 50)
  -- Enter insert mode at the end of the line; the main loop runs it, the timers drive the rest.
  feed('A')
end)

if not ok_run then
  finish(false, 'error: ' .. tostring(err_run))
end
