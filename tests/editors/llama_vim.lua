-- Real-client test of llama.vim (../shared/clients/llama.vim) against `dg-engine serve --http`, run by
-- test_editor_llama_vim.py as
--   nvim --headless --clean -S tests/editors/llama_vim.lua
-- Environment:
--   DG_TEST_LLAMA_DIR   the llama.vim checkout
--   DG_TEST_ENDPOINT    its endpoint_fim: http://127.0.0.1:PORT/infill
--   DG_TEST_TOKEN       its api_key (the daemon's bearer token)
--   DG_TEST_FILE        file to open; DG_TEST_LINE: 1-based line whose end the cursor goes to
--   DG_TEST_NUDGE_LINE  the file's last line, rewritten while no suggestion shows
--   DG_TEST_TIMEOUT_MS  how long to wait for ghost text
--   DG_TEST_RESULT      where to write the JSON result
-- Steps: enter insert mode at the end of the line, wait for llama.vim's ghost text (an extmark in its
-- 'vt_fim' namespace), accept it with <Tab> and check that the buffer holds exactly what it showed.
local env = vim.env
local api = vim.api
local result = { steps = {} }
local t0 = vim.uv.hrtime()

local function finish(ok, msg)
  result.ok = ok
  result.message = msg
  result.lines = api.nvim_buf_get_lines(0, 0, -1, false)
  local f = assert(io.open(env.DG_TEST_RESULT, 'w'))
  f:write(vim.json.encode(result))
  f:close()
  os.exit(ok and 0 or 1)
end

local function step(name, extra)
  local s = vim.tbl_extend('force', { name = name, t_ms = math.floor((vim.uv.hrtime() - t0) / 1e6) }, extra or {})
  table.insert(result.steps, s)
end

local function feed(keys)
  api.nvim_feedkeys(api.nvim_replace_termcodes(keys, true, false, true), 'mt', false)
end

local ok_run, err_run = pcall(function()
  vim.o.swapfile = false
  vim.g.llama_config = {
    endpoint_fim = env.DG_TEST_ENDPOINT,
    api_key = env.DG_TEST_TOKEN,
    n_predict = 24,
    show_info = 0,
    auto_fim = true,
  }
  vim.opt.rtp:prepend(env.DG_TEST_LLAMA_DIR)
  vim.cmd('runtime! plugin/llama.vim')
  vim.cmd.edit(vim.fn.fnameescape(env.DG_TEST_FILE))
  local bufnr = api.nvim_get_current_buf()
  local line_nr = tonumber(env.DG_TEST_LINE)
  local timeout = tonumber(env.DG_TEST_TIMEOUT_MS) or 120000

  local function ghost()
    local ns = api.nvim_get_namespaces()['vt_fim']
    if not ns then
      return nil
    end
    local lines, at = {}, nil
    for _, m in ipairs(api.nvim_buf_get_extmarks(bufnr, ns, 0, -1, { details = true })) do
      local d = m[4]
      if d.virt_text and d.virt_text_pos == 'overlay' and d.virt_text[1][1] ~= '' then
        at = { row = m[2], col = m[3] }
        lines[1] = d.virt_text[1][1]
      end
      for _, vl in ipairs(d.virt_lines or {}) do
        lines[#lines + 1] = vl[1][1]
      end
    end
    if not at then
      return nil
    end
    return { row = at.row, col = at.col, lines = lines }
  end

  api.nvim_win_set_cursor(0, { line_nr, 0 })
  feed('A')
  local deadline = vim.uv.now() + timeout
  local phase, seen, nudges, last_nudge = 'wait', nil, 0, 0

  local tick
  tick = function()
    local okp, errp = pcall(function()
      if vim.uv.now() > deadline then
        return finish(false, ('timed out in phase %s after %d nudges'):format(phase, nudges))
      end
      if phase == 'wait' then
        local g = ghost()
        if g then
          step('ghost', g)
          seen = g
          result.before_accept = api.nvim_buf_get_lines(bufnr, 0, -1, false)
          phase = 'accepted'
          feed('<Tab>')
        elseif vim.uv.now() - last_nudge > 3000 then
          -- No suggestion: llama.vim caches each answer by context, an empty one too, so change the
          -- file's last line (in its suffix) and type, as a user's next keystroke asks again.
          nudges = nudges + 1
          last_nudge = vim.uv.now()
          local n = api.nvim_buf_line_count(bufnr)
          api.nvim_buf_set_lines(bufnr, n - 1, n, true, { env.DG_TEST_NUDGE_LINE .. ' ' .. nudges })
          feed('x<BS>')
        end
      elseif phase == 'accepted' then
        local before, now = result.before_accept, api.nvim_buf_get_lines(bufnr, 0, -1, false)
        local expected = vim.list_slice(before, 1, seen.row)
        local ins = vim.deepcopy(seen.lines)
        ins[1] = before[seen.row + 1]:sub(1, seen.col) .. ins[1]
        vim.list_extend(expected, ins)
        vim.list_extend(expected, vim.list_slice(before, seen.row + 2))
        result.expected = expected
        if not vim.deep_equal(now, expected) then
          return finish(false, '<Tab> did not insert what the ghost text showed')
        end
        step('accepted')
        return finish(true, 'ok')
      end
      vim.defer_fn(tick, 200)
    end)
    if not okp then
      finish(false, 'error: ' .. tostring(errp))
    end
  end
  vim.defer_fn(tick, 300)
end)
if not ok_run then
  finish(false, 'setup error: ' .. tostring(err_run))
end
