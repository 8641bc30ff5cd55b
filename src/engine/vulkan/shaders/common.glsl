// Shared by every shader: the extensions for reading 8- and 16-bit weights straight from
// storage buffers (the blocks of ggml's types are byte-packed), and the workgroup size.
#extension GL_EXT_shader_8bit_storage : require
#extension GL_EXT_shader_16bit_storage : require
#extension GL_EXT_control_flow_attributes : enable

#define WG 64
