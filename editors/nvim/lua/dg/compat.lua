-- Small shims over the Neovim API differences between 0.10, 0.11 and 0.12.
local M = {}

M.has_011 = vim.fn.has('nvim-0.11') == 1

--- Call a vim.lsp.Client method: `client:method(...)` on 0.11+, `client.method(...)` on 0.10.
---@param client vim.lsp.Client
---@param method string
function M.client_call(client, method, ...)
  if M.has_011 then
    return client[method](client, ...)
  end
  return client[method](...)
end

--- The native LSP inline completion module (Neovim 0.12), or nil where Neovim lacks it.
---@return table|nil
function M.native_inline_completion()
  local ok, mod = pcall(require, 'vim.lsp.inline_completion')
  if ok and type(mod) == 'table' and type(mod.enable) == 'function' and type(mod.get) == 'function' then
    return mod
  end
  return nil
end

--- Byte column in `line` of an LSP `character` offset counted in `encoding` units.
---@param line string
---@param character integer
---@param encoding string 'utf-8'|'utf-16'|'utf-32'
---@return integer
function M.byte_col(line, character, encoding)
  if encoding == 'utf-8' then
    return math.min(character, #line)
  end
  local ok, col
  if M.has_011 then
    ok, col = pcall(vim.str_byteindex, line, encoding, character, false)
  else
    ok, col = pcall(vim.str_byteindex, line, character, encoding == 'utf-16')
  end
  if not ok or not col then
    return #line
  end
  return math.min(col, #line)
end

--- Position params for the cursor of the current window.
---@param client vim.lsp.Client
function M.position_params(client)
  return vim.lsp.util.make_position_params(0, client.offset_encoding)
end

function M.keycode(keys)
  return vim.api.nvim_replace_termcodes(keys, true, true, true)
end

return M
