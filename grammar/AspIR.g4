// AspIR.g4: the textual format of AutoSpIR (.aspir), MLIR-style.
//
// The grammar fixes the shape of the text; what an op name means (which
// custom form it takes, which attributes it needs) is decided afterwards by
// IrBuilder against the Context's dialect registry. Keep every rule LL(1)
// where possible: the parser runs in SLL mode first (see AspIRParserDriver).
//
// Regenerate grammar/generated/ after editing: grammar/regen.sh
grammar AspIR;

// ---------------------------------------------------------------- top level

file : operation* EOF ;

// The driver parses modules and functions piecewise (header, one op or block
// label at a time, closing brace), so only one op's parse tree is alive at a time.
openBrace  : '{' ;
closeBrace : '}' ;

operation
    : resultList? (genericOperation | moduleOperation | funcOperation | returnOperation
                   | callOperation | customOperation)
    ;

resultList : VALUE_ID (':' INT)? (',' VALUE_ID (':' INT)?)* '=' ;   // %r, %r:2, %a, %b

// "dialect.op"(%a, %b)[^succ] ({region}) {attrs} : (T, T) -> T
genericOperation
    : STRING '(' valueList? ')' successorList? regionList? attrDict? ':' functionType
    ;

successorList : '[' BLOCK_ID (',' BLOCK_ID)* ']' ;
regionList    : '(' region (',' region)* ')' ;

// module @name attributes {..} { ops }
moduleOperation : moduleHeader region ;
moduleHeader    : KW_MODULE SYMBOL_ID? (KW_ATTRIBUTES attrDict)? ;

// func.func [private] @name(%a: T {attrs}, ...) -> (T {attrs}, ...) attributes {..} { body }
funcOperation : funcHeader region? ;
funcHeader
    : KW_FUNC visibility=BARE_ID? SYMBOL_ID '(' funcArgList? ')' (ARROW funcResults)?
      (KW_ATTRIBUTES attrDict)?
    ;
funcArgList : funcArg (',' funcArg)* ;
funcArg     : (VALUE_ID ':')? type attrDict? ;   // names are absent in a declaration
funcResults : nonFunctionType | '(' (funcResult (',' funcResult)*)? ')' ;
funcResult  : type attrDict? ;

// func.return %a, %b : T, T
returnOperation : KW_RETURN (valueList ':' typeList)? ;

// func.call @f(%a) : (T) -> T
callOperation : KW_CALL SYMBOL_ID '(' valueList? ')' attrDict? ':' functionType ;

// The custom form shared by every registered op without a form of its own:
//   tensor.matmul %a, %b {attrs} : (T, T) -> T
//   tensor.add %a, %b : T                  (same operand and result type)
//   tensor.constant dense<1.0> : T         (one positional attribute)
customOperation : BARE_ID (valueList | positionalAttr)? attrDict? (':' typeSpec)? ;

typeSpec
    : '(' typeList? ')' ARROW resultTypes     # fullFunctionTypeSpec
    | nonFunctionType (ARROW resultTypes)?    # shortTypeSpec
    ;

// ---------------------------------------------------------------- regions

region       : '{' operation* block* '}' ;
block        : blockLabel operation* ;
blockLabel   : BLOCK_ID blockArgList? ':' ;
blockArgList : '(' (blockArg (',' blockArg)*)? ')' ;
blockArg     : VALUE_ID ':' type ;

valueList : VALUE_ID (',' VALUE_ID)* ;

// ---------------------------------------------------------------- types

type : nonFunctionType | functionType ;

// Where a '(' could open either a function type or a parenthesized list, only
// these are allowed bare; a function type there must be parenthesized. This keeps
// every decision LL(1), so prediction never scans a whole type ahead.
nonFunctionType
    : TENSOR_TYPE                // tensor<4x?xf32> without an encoding: one token
    | tensorType
    | BARE_ID                    // f32, i64, bf16, index, ...
    | DIALECT_TYPE dialectBody?  // !dist.token
    ;

tensorType  : KW_TENSOR '<' SHAPE? BARE_ID (',' attribute)? '>' ;
functionType : '(' typeList? ')' ARROW resultTypes ;
resultTypes  : nonFunctionType | '(' typeList? ')' ;
typeList     : type (',' type)* ;

// ---------------------------------------------------------------- attributes

attrDict  : '{' (attrEntry (',' attrEntry)*)? '}' ;
attrEntry : attrKey ('=' attribute)? ;   // a key alone is a unit attribute
attrKey   : BARE_ID | STRING | KW_MODULE | KW_TENSOR | KW_DENSE | KW_ATTRIBUTES
          | KW_TRUE | KW_FALSE | KW_UNIT ;

attribute
    : INT (':' type)?                                        # intAttr
    | FLOAT (':' type)?                                      # floatAttr
    | STRING                                                 # stringAttr
    | KW_TRUE                                                # trueAttr
    | KW_FALSE                                               # falseAttr
    | KW_UNIT                                                # unitAttr
    | '[' (attribute (',' attribute)*)? ']'                  # arrayAttr
    | attrDict                                               # dictAttr
    | SYMBOL_ID                                              # symbolAttr
    | KW_DENSE '<' denseLiteral? '>' ':' type                # denseAttr
    | HASH_ID dialectBody?                                   # dialectAttr
    | type                                                   # typeAttr
    ;

// A positional attribute of the custom form: a literal whose type the op's result gives.
positionalAttr
    : INT | FLOAT | STRING | KW_TRUE | KW_FALSE | KW_DENSE '<' denseLiteral? '>' | SYMBOL_ID
    ;

denseLiteral : denseScalar | '[' (denseLiteral (',' denseLiteral)*)? ']' ;
denseScalar  : INT | FLOAT | KW_TRUE | KW_FALSE ;

// The body of a dialect attribute or type, kept as balanced text:
//   #dist.sharding<@mesh, [{}, {"sp"}, {}]>
dialectBody : '<' dialectItem* '>' ;
dialectItem
    : dialectBody
    | '[' dialectItem* ']' | '{' dialectItem* '}' | '(' dialectItem* ')'
    | VALUE_ID | SYMBOL_ID | BARE_ID | STRING | INT | FLOAT | SHAPE | HASH_ID | DIALECT_TYPE | TENSOR_TYPE
    | ',' | ':' | '=' | ARROW | '?' | KW_TENSOR | KW_DENSE | KW_TRUE | KW_FALSE | KW_UNIT
    ;

// ---------------------------------------------------------------- lexer

KW_MODULE     : 'module' ;
KW_FUNC       : 'func.func' ;
KW_RETURN     : 'func.return' ;
KW_CALL       : 'func.call' ;
KW_ATTRIBUTES : 'attributes' ;
KW_TENSOR     : 'tensor' ;
KW_DENSE      : 'dense' ;
KW_TRUE       : 'true' ;
KW_FALSE      : 'false' ;
KW_UNIT       : 'unit' ;

ARROW : '->' ;

// The common tensor type as a single token (the parser's hottest path); one with
// an encoding or with spaces inside falls back to the tensorType rule.
TENSOR_TYPE : 'tensor<' ((DIGITS | '?') 'x')* [a-zA-Z_] [a-zA-Z_0-9]* '>' ;

// The dimension list of a shaped type, trailing 'x' included: the "1x?x64x"
// of tensor<1x?x64xbf16>. Longest match keeps it one token.
SHAPE : (DIGITS | '?') 'x' ((DIGITS | '?') 'x')* ;

FLOAT
    : '-'? DIGITS '.' DIGITS? EXPONENT?
    | '-'? DIGITS EXPONENT
    | '-'? 'inf'
    | 'nan'
    ;
INT : '-'? DIGITS ;

VALUE_ID     : '%' SUFFIX_ID ('#' DIGITS)? ;
BLOCK_ID     : '^' SUFFIX_ID ;
SYMBOL_ID    : '@' (SUFFIX_ID | STRING_BODY) ;
HASH_ID      : '#' BARE ;
DIALECT_TYPE : '!' BARE ;
BARE_ID      : BARE ;
STRING       : STRING_BODY ;

LINE_COMMENT : '//' ~[\r\n]* -> skip ;
WS           : [ \t\r\n]+ -> skip ;

// Any other character is its own token, so the parser (not the lexer)
// reports it with a precise location.
ERROR_CHAR : . ;

fragment DIGITS      : [0-9]+ ;
fragment EXPONENT    : [eE] [+-]? DIGITS ;
fragment BARE        : [a-zA-Z_] [a-zA-Z_0-9$.]* ;
fragment SUFFIX_ID   : DIGITS | [a-zA-Z_$.\-] [a-zA-Z_0-9$.\-]* ;
fragment STRING_BODY : '"' (~["\\\r\n] | '\\' .)* '"' ;
