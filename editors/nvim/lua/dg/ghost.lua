-- Extmark ghost text for textDocument/inlineCompletion, for Neovim without vim.lsp.inline_completion
-- (0.10, 0.11), or when `ghost_text = "extmark"` is asked for.
--
-- A suggestion is kept as an anchor (where the not-yet-typed text starts), the text still to insert,
-- and the end of the range it replaces. Typing characters that match the suggestion consumes them
-- without a new request; anything else drops the suggestion and asks again after the debounce.
local compat = require('dg.compat')
local api = vim.api

local M = {}

M.ns = api.nvim_create_namespace('dg.ghost')

---@class dg.Suggestion
---@field row integer 0-based anchor row
---@field col integer 0-based anchor byte column
---@field text string text still to insert at the anchor
---@field end_row integer end of the replaced range (0-based)
---@field end_col integer
---@field command? table lsp.Command to run after accepting

---@class dg.BufState
---@field client_id integer
---@field enabled boolean
---@field debounce_ms integer
---@field timer? uv.uv_timer_t
---@field request_id? integer
---@field items dg.Suggestion[]
---@field index integer
---@field augroup integer

---@type table<integer, dg.BufState>
local states = {}

local function cursor()
  local pos = api.nvim_win_get_cursor(0)
  return pos[1] - 1, pos[2]
end

local function get_line(bufnr, row)
  return api.nvim_buf_get_lines(bufnr, row, row + 1, false)[1] or ''
end

local function current(state)
  return state.items[state.index]
end

function M.clear(bufnr)
  if api.nvim_buf_is_valid(bufnr) then
    api.nvim_buf_clear_namespace(bufnr, M.ns, 0, -1)
  end
end

local function stop_timer(state)
  if state.timer then
    state.timer:stop()
    if not state.timer:is_closing() then
      state.timer:close()
    end
    state.timer = nil
  end
end

local function cancel_request(state)
  if state.request_id then
    local client = vim.lsp.get_client_by_id(state.client_id)
    if client then
      compat.client_call(client, 'cancel_request', state.request_id)
    end
    state.request_id = nil
  end
end

local function render(bufnr, state)
  M.clear(bufnr)
  local s = current(state)
  if not s or s.text == '' then
    return
  end
  local lines = vim.split(s.text, '\n', { plain = true })
  local virt_lines = {}
  for i = 2, #lines do
    virt_lines[#virt_lines + 1] = { { lines[i], 'DgGhostText' } }
  end
  local virt_text = { { lines[1], 'DgGhostText' } }
  if #state.items > 1 then
    local hint = { (' (%d/%d)'):format(state.index, #state.items), 'DgGhostTextHint' }
    table.insert(#virt_lines > 0 and virt_lines[#virt_lines] or virt_text, hint)
  end
  local opts = {
    virt_text = virt_text,
    virt_text_pos = 'inline',
    hl_mode = 'combine',
    right_gravity = false,
  }
  if #virt_lines > 0 then
    opts.virt_lines = virt_lines
  end
  api.nvim_buf_set_extmark(bufnr, M.ns, s.row, s.col, opts)
end

--- Drop the shown suggestion and any request in flight.
function M.dismiss(bufnr)
  bufnr = (bufnr == nil or bufnr == 0) and api.nvim_get_current_buf() or bufnr
  local state = states[bufnr]
  if not state then
    return false
  end
  local had = current(state) ~= nil
  stop_timer(state)
  cancel_request(state)
  state.items, state.index = {}, 1
  M.clear(bufnr)
  return had
end

--- Turn one lsp.InlineCompletionItem into a suggestion anchored at the cursor, or nil when the item
--- does not fit the cursor (a range on another line, or text that disagrees with what is typed).
---@return dg.Suggestion|nil
local function normalize(bufnr, client, item, row, col)
  local text = item.insertText
  if type(text) == 'table' then
    -- StringValue snippet: show and insert its text without tabstops.
    text = text.value and text.value:gsub('%$%b{}', ''):gsub('%$%d+', '') or nil
  end
  if type(text) ~= 'string' or text == '' then
    return nil
  end
  local s = { row = row, col = col, text = text, end_row = row, end_col = col, command = item.command }
  if item.range then
    local enc = client.offset_encoding or 'utf-16'
    local r = item.range
    if r.start.line ~= row then
      return nil
    end
    local line = get_line(bufnr, row)
    local start_col = compat.byte_col(line, r.start.character, enc)
    local end_line = r['end'].line == row and line or get_line(bufnr, r['end'].line)
    local end_col = compat.byte_col(end_line, r['end'].character, enc)
    if start_col > col or (r['end'].line == row and end_col < col) then
      return nil
    end
    local typed = line:sub(start_col + 1, col)
    if text:sub(1, #typed) ~= typed then
      return nil
    end
    s.text = text:sub(#typed + 1)
    s.end_row, s.end_col = r['end'].line, end_col
  end
  if s.text == '' then
    return nil
  end
  return s
end

local function request(bufnr, state)
  local client = vim.lsp.get_client_by_id(state.client_id)
  if not client or not state.enabled or api.nvim_get_current_buf() ~= bufnr then
    return
  end
  if not api.nvim_get_mode().mode:match('^i') then
    return
  end
  cancel_request(state)
  local params = compat.position_params(client)
  params.context = { triggerKind = 2 } -- InlineCompletionTriggerKind.Automatic
  local tick = api.nvim_buf_get_changedtick(bufnr)
  local row, col = cursor()
  local ok, id = compat.client_call(client, 'request', 'textDocument/inlineCompletion', params, function(err, result)
    if state.request_id ~= nil and id ~= nil and state.request_id ~= id then
      return -- superseded
    end
    state.request_id = nil
    if err or not result then
      return
    end
    if not api.nvim_buf_is_valid(bufnr) or api.nvim_buf_get_changedtick(bufnr) ~= tick then
      return
    end
    local r, c = cursor()
    if api.nvim_get_current_buf() ~= bufnr or r ~= row or c ~= col or not api.nvim_get_mode().mode:match('^i') then
      return
    end
    local items = {}
    for _, item in ipairs(result.items or result) do
      local s = normalize(bufnr, client, item, row, col)
      if s then
        items[#items + 1] = s
      end
    end
    state.items, state.index = items, 1
    render(bufnr, state)
  end, bufnr)
  if ok then
    state.request_id = id
  end
end

local function schedule_request(bufnr, state)
  stop_timer(state)
  if not state.enabled then
    return
  end
  local timer = vim.uv.new_timer()
  state.timer = timer
  timer:start(
    state.debounce_ms,
    0,
    vim.schedule_wrap(function()
      if state.timer == timer then
        stop_timer(state)
        request(bufnr, state)
      end
    end)
  )
end

--- After a change: keep the suggestion when the user typed its next characters, else ask again.
local function on_change(bufnr, state)
  local s = current(state)
  if s then
    local row, col = cursor()
    if row == s.row and col >= s.col then
      local typed = get_line(bufnr, row):sub(s.col + 1, col)
      if typed ~= '' and s.text:sub(1, #typed) == typed and #typed < #s.text then
        local consumed = #typed
        s.text = s.text:sub(consumed + 1)
        s.col = col
        if s.end_row == row then
          s.end_col = math.max(s.end_col + consumed, col)
        end
        state.items, state.index = { s }, 1
        render(bufnr, state)
        return
      end
    end
  end
  cancel_request(state)
  state.items, state.index = {}, 1
  M.clear(bufnr)
  schedule_request(bufnr, state)
end

--- Whether a suggestion is shown in `bufnr` (default: current buffer).
function M.visible(bufnr)
  bufnr = (bufnr == nil or bufnr == 0) and api.nvim_get_current_buf() or bufnr
  local state = states[bufnr]
  return state ~= nil and current(state) ~= nil
end

--- Accept the shown suggestion. Returns false when none is shown. Safe to call from an <expr>
--- mapping: the edit itself is scheduled.
function M.accept(bufnr)
  bufnr = (bufnr == nil or bufnr == 0) and api.nvim_get_current_buf() or bufnr
  local state = states[bufnr]
  local s = state and current(state)
  if not s then
    return false
  end
  stop_timer(state)
  cancel_request(state)
  state.items, state.index = {}, 1
  M.clear(bufnr)
  vim.schedule(function()
    if not api.nvim_buf_is_valid(bufnr) then
      return
    end
    local lines = vim.split(s.text, '\n', { plain = true })
    api.nvim_buf_set_text(bufnr, s.row, s.col, s.end_row, s.end_col, lines)
    local last_row = s.row + #lines - 1
    local last_col = (#lines == 1 and s.col or 0) + #lines[#lines]
    local win = vim.fn.bufwinid(bufnr)
    if win ~= -1 then
      api.nvim_win_set_cursor(win, { last_row + 1, last_col })
    end
    if s.command then
      local client = vim.lsp.get_client_by_id(state.client_id)
      if client then
        compat.client_call(client, 'request', 'workspace/executeCommand', s.command, function() end, bufnr)
      end
    end
  end)
  return true
end

--- Show the next (`count` > 0) or previous suggestion. Returns false when none is shown.
function M.select(count, bufnr)
  bufnr = (bufnr == nil or bufnr == 0) and api.nvim_get_current_buf() or bufnr
  local state = states[bufnr]
  if not state or #state.items == 0 then
    return false
  end
  state.index = (state.index - 1 + count) % #state.items + 1
  render(bufnr, state)
  return true
end

function M.set_enabled(bufnr, enabled)
  local state = states[bufnr]
  if state then
    state.enabled = enabled
    if not enabled then
      M.dismiss(bufnr)
    end
  end
end

function M.is_enabled(bufnr)
  local state = states[bufnr]
  return state ~= nil and state.enabled
end

function M.is_attached(bufnr)
  return states[bufnr] ~= nil
end

--- Start extmark ghost text in `bufnr` for the client `client_id`.
---@param opts { debounce_ms: integer, enabled: boolean }
function M.attach(bufnr, client_id, opts)
  if states[bufnr] then
    states[bufnr].client_id = client_id
    return
  end
  local group = api.nvim_create_augroup('dg.ghost.' .. bufnr, { clear = true })
  local state = {
    client_id = client_id,
    enabled = opts.enabled,
    debounce_ms = opts.debounce_ms,
    items = {},
    index = 1,
    augroup = group,
  }
  states[bufnr] = state
  local last_tick = api.nvim_buf_get_changedtick(bufnr)
  api.nvim_create_autocmd('InsertEnter', {
    group = group,
    buffer = bufnr,
    callback = function()
      last_tick = api.nvim_buf_get_changedtick(bufnr)
      schedule_request(bufnr, state)
    end,
  })
  api.nvim_create_autocmd('TextChangedI', {
    group = group,
    buffer = bufnr,
    callback = function()
      last_tick = api.nvim_buf_get_changedtick(bufnr)
      on_change(bufnr, state)
    end,
  })
  api.nvim_create_autocmd('CursorMovedI', {
    group = group,
    buffer = bufnr,
    callback = function()
      if api.nvim_buf_get_changedtick(bufnr) ~= last_tick then
        return -- a text change: TextChangedI handles it
      end
      local s = current(state)
      local row, col = cursor()
      if s and row == s.row and col == s.col then
        return
      end
      -- The cursor moved without an edit (arrow keys, mouse): drop and ask again there.
      cancel_request(state)
      state.items, state.index = {}, 1
      M.clear(bufnr)
      schedule_request(bufnr, state)
    end,
  })
  api.nvim_create_autocmd({ 'InsertLeave', 'BufLeave' }, {
    group = group,
    buffer = bufnr,
    callback = function()
      M.dismiss(bufnr)
    end,
  })
  api.nvim_create_autocmd({ 'BufUnload', 'BufWipeout' }, {
    group = group,
    buffer = bufnr,
    callback = function()
      M.detach(bufnr)
    end,
  })
end

function M.detach(bufnr)
  local state = states[bufnr]
  if not state then
    return
  end
  M.dismiss(bufnr)
  pcall(api.nvim_del_augroup_by_id, state.augroup)
  states[bufnr] = nil
end

return M
