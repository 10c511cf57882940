/**
 * The ONNX protobuf schema (onnx.proto, IR version 11) as a protobufjs JSON descriptor.
 *
 * Field numbers and packing follow the published ONNX IR; proto2 semantics, so repeated
 * scalars are unpacked unless onnx.proto says `[packed = true]` (TensorProto's typed data
 * fields). Writing it as a descriptor keeps the decoder a maintained library (protobufjs)
 * while avoiding a code-generation step in the build.
 */
import * as protobuf from 'protobufjs';
import Long from 'long';

// Make int64 fields decode as Long (exact) rather than lossy numbers, whatever protobufjs finds.
protobuf.util.Long = Long as unknown as protobuf.Constructor<Long>;
protobuf.configure();

type FieldDesc = { type: string; id: number; rule?: 'repeated'; options?: { packed: boolean } };
const f = (type: string, id: number): FieldDesc => ({ type, id });
const rep = (type: string, id: number, packed = false): FieldDesc => ({
  type,
  id,
  rule: 'repeated',
  options: { packed },
});

const descriptor = {
  nested: {
    onnx: {
      nested: {
        AttributeProto: {
          fields: {
            name: f('string', 1),
            ref_attr_name: f('string', 21),
            doc_string: f('string', 13),
            type: f('int32', 20),
            f: f('float', 2),
            i: f('int64', 3),
            s: f('bytes', 4),
            t: f('TensorProto', 5),
            g: f('GraphProto', 6),
            sparse_tensor: f('SparseTensorProto', 22),
            tp: f('TypeProto', 14),
            floats: rep('float', 7),
            ints: rep('int64', 8),
            strings: rep('bytes', 9),
            tensors: rep('TensorProto', 10),
            graphs: rep('GraphProto', 11),
            sparse_tensors: rep('SparseTensorProto', 23),
            type_protos: rep('TypeProto', 15),
          },
        },
        ValueInfoProto: {
          fields: {
            name: f('string', 1),
            type: f('TypeProto', 2),
            doc_string: f('string', 3),
            metadata_props: rep('StringStringEntryProto', 4),
          },
        },
        NodeProto: {
          fields: {
            input: rep('string', 1),
            output: rep('string', 2),
            name: f('string', 3),
            op_type: f('string', 4),
            domain: f('string', 7),
            overload: f('string', 8),
            attribute: rep('AttributeProto', 5),
            doc_string: f('string', 6),
            metadata_props: rep('StringStringEntryProto', 9),
          },
        },
        TrainingInfoProto: {
          fields: {
            initialization: f('GraphProto', 1),
            algorithm: f('GraphProto', 2),
            initialization_binding: rep('StringStringEntryProto', 3),
            update_binding: rep('StringStringEntryProto', 4),
          },
        },
        ModelProto: {
          fields: {
            ir_version: f('int64', 1),
            opset_import: rep('OperatorSetIdProto', 8),
            producer_name: f('string', 2),
            producer_version: f('string', 3),
            domain: f('string', 4),
            model_version: f('int64', 5),
            doc_string: f('string', 6),
            graph: f('GraphProto', 7),
            metadata_props: rep('StringStringEntryProto', 14),
            training_info: rep('TrainingInfoProto', 20),
            functions: rep('FunctionProto', 25),
          },
        },
        StringStringEntryProto: { fields: { key: f('string', 1), value: f('string', 2) } },
        TensorAnnotation: {
          fields: {
            tensor_name: f('string', 1),
            quant_parameter_tensor_names: rep('StringStringEntryProto', 2),
          },
        },
        GraphProto: {
          fields: {
            node: rep('NodeProto', 1),
            name: f('string', 2),
            initializer: rep('TensorProto', 5),
            sparse_initializer: rep('SparseTensorProto', 15),
            doc_string: f('string', 10),
            input: rep('ValueInfoProto', 11),
            output: rep('ValueInfoProto', 12),
            value_info: rep('ValueInfoProto', 13),
            quantization_annotation: rep('TensorAnnotation', 14),
            metadata_props: rep('StringStringEntryProto', 16),
          },
        },
        TensorProto: {
          fields: {
            dims: rep('int64', 1),
            data_type: f('int32', 2),
            segment: f('Segment', 3),
            float_data: rep('float', 4, true),
            int32_data: rep('int32', 5, true),
            string_data: rep('bytes', 6),
            int64_data: rep('int64', 7, true),
            name: f('string', 8),
            doc_string: f('string', 12),
            raw_data: f('bytes', 9),
            external_data: rep('StringStringEntryProto', 13),
            data_location: f('int32', 14),
            double_data: rep('double', 10, true),
            uint64_data: rep('uint64', 11, true),
            metadata_props: rep('StringStringEntryProto', 16),
          },
          nested: { Segment: { fields: { begin: f('int64', 1), end: f('int64', 2) } } },
        },
        SparseTensorProto: {
          fields: { values: f('TensorProto', 1), indices: f('TensorProto', 2), dims: rep('int64', 3) },
        },
        TensorShapeProto: {
          fields: { dim: rep('Dimension', 1) },
          nested: {
            Dimension: {
              fields: { dim_value: f('int64', 1), dim_param: f('string', 2), denotation: f('string', 3) },
            },
          },
        },
        TypeProto: {
          fields: {
            tensor_type: f('Tensor', 1),
            sequence_type: f('Sequence', 4),
            map_type: f('Map', 5),
            optional_type: f('Optional', 9),
            sparse_tensor_type: f('SparseTensor', 8),
            denotation: f('string', 6),
          },
          nested: {
            Tensor: { fields: { elem_type: f('int32', 1), shape: f('TensorShapeProto', 2) } },
            Sequence: { fields: { elem_type: f('TypeProto', 1) } },
            Map: { fields: { key_type: f('int32', 1), value_type: f('TypeProto', 2) } },
            Optional: { fields: { elem_type: f('TypeProto', 1) } },
            SparseTensor: { fields: { elem_type: f('int32', 1), shape: f('TensorShapeProto', 2) } },
          },
        },
        OperatorSetIdProto: { fields: { domain: f('string', 1), version: f('int64', 2) } },
        FunctionProto: {
          fields: {
            name: f('string', 1),
            input: rep('string', 4),
            output: rep('string', 5),
            attribute: rep('string', 6),
            attribute_proto: rep('AttributeProto', 11),
            node: rep('NodeProto', 7),
            doc_string: f('string', 8),
            opset_import: rep('OperatorSetIdProto', 9),
            domain: f('string', 10),
            overload: f('string', 13),
            value_info: rep('ValueInfoProto', 12),
            metadata_props: rep('StringStringEntryProto', 14),
          },
        },
      },
    },
  },
};

const root = protobuf.Root.fromJSON(descriptor);
export const ModelProtoType = root.lookupType('onnx.ModelProto');
export const TensorProtoType = root.lookupType('onnx.TensorProto');
